// The agent's side of the ops listener (ops/server.h): what /readyz checks and what /metrics
// refreshes, for mash-agent run and the integration harness alike.
//
// Ready means the agent can answer a query now:
//   "not_connected"          no welcomed connection to the hub (its checkpoint verified)
//   "audit_alarm"            the witness alarm is raised: every query gets "unavailable"
//   "disclosure_log_failing" the last write to the disclosure log failed: nothing can be sent
// (its stores, the database and the record source, are opened by Responder::Create, without
// which the agent does not run).
//
// Thread safety: everything runs on the channel's io thread.
#pragma once

#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "mash/agent/channel.h"
#include "mash/agent/config.h"
#include "mash/agent/metrics.h"
#include "mash/agent/responder.h"
#include "mash/common/status.h"
#include "mash/ops/server.h"

namespace mash::agent {

// What keeps the agent from answering (above); empty: ready.
std::vector<std::string> AgentNotReady(const Channel& channel, const Responder& responder);

// Sets the gauges read from state: connected, review queue items, certificate expiry (read from
// config.tls's files, so that a renewed certificate shows at the next scrape).
void RefreshAgentMetrics(const AgentConfig& config, const Channel& channel, Responder& responder,
                         AgentMetrics& metrics);

// Starts the ops listener on config.ops_listen (which must be set) serving `registry`. The
// channel, responder, metrics and config must outlive it: Stop() it before they go. Errors:
// OpsServer::Start's.
Result<std::shared_ptr<ops::OpsServer>> StartAgentOps(
    boost::asio::io_context& io, const AgentConfig& config, const Channel* channel,
    Responder* responder, AgentMetrics* metrics, std::shared_ptr<prometheus::Registry> registry);

}  // namespace mash::agent
