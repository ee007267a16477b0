#include "mash/agent/agent_ops.h"

#include "mash/common/log.h"
#include "mash/crypto/cert_info.h"
#include "mash/storage/database.h"

namespace mash::agent {

std::vector<std::string> AgentNotReady(const Channel& channel, const Responder& responder) {
  std::vector<std::string> failing;
  if (!channel.connected()) failing.emplace_back("not_connected");
  if (channel.draining()) failing.emplace_back("draining");  // SIGTERM: finishing its answers
  if (responder.alarmed()) failing.emplace_back("audit_alarm");
  if (responder.disclosure_log_failing()) failing.emplace_back("disclosure_log_failing");
  // A store of this process found its disk full and has not written since (storage.full).
  if (storage::StorageFull()) failing.emplace_back("storage_full");
  return failing;
}

void RefreshAgentMetrics(const AgentConfig& config, const Channel& channel, Responder& responder,
                         AgentMetrics& metrics) {
  metrics.SetConnected(channel.connected());
  auto awaiting = responder.review_queue().CountAwaiting();
  if (awaiting.ok()) {
    metrics.SetReviewQueueItems(awaiting->items);
  } else {
    common::LogWarn("ops.review_queue_unreadable", {{"error", awaiting.status().message()}});
  }
  const std::pair<const char*, std::filesystem::path> certificates[] = {
      {"client", config.tls.cert_chain_file}, {"hub_ca", config.tls.ca_file}};
  for (const auto& [role, file] : certificates) {
    if (file.empty()) continue;
    auto info = crypto::DescribeCertificate(file);
    if (info.ok()) metrics.SetCertificateExpiry(role, info->not_after);
  }
}

Result<std::shared_ptr<ops::OpsServer>> StartAgentOps(
    boost::asio::io_context& io, const AgentConfig& config, const Channel* channel,
    Responder* responder, AgentMetrics* metrics, std::shared_ptr<prometheus::Registry> registry) {
  if (!config.ops_listen) return InvalidArgument("[ops] listen is not set");
  ops::OpsOptions options;
  options.listen = *config.ops_listen;
  ops::OpsHandlers handlers;
  handlers.registry = std::move(registry);
  handlers.refresh = [&config, channel, responder, metrics] {
    RefreshAgentMetrics(config, *channel, *responder, *metrics);
  };
  handlers.not_ready = [channel, responder] { return AgentNotReady(*channel, *responder); };
  return ops::OpsServer::Start(io, std::move(options), std::move(handlers));
}

}  // namespace mash::agent
