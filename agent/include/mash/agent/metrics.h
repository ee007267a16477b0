// The agent's Prometheus metrics (served by the ops listener, ops/server.h), registered once on
// a registry the caller owns (mash-agent makes one; tests pass their own and read it). Labels
// are outcomes and certificate roles only: never a person, a subject, a check id or a token.
//
//   mash_agent_connected                          gauge 1 while a welcomed connection is open
//   mash_agent_queries_total{outcome}             counter; answered | no_match |
//                                                 held_for_review | refused | rejected |
//                                                 unavailable | failed
//   mash_agent_answer_seconds                     histogram, query frame in to answer queued
//   mash_agent_review_queue_items                 gauge, items waiting for the custodian
//   mash_agent_disclosure_log_appends_total       counter, answers recorded in the disclosure log
//   mash_agent_certificate_expiry_timestamp_seconds{certificate}
//                                                 gauge, notAfter in Unix seconds; client | hub_ca
//
// What each query outcome means: answered (the answer reports a confirmed or possible match),
// no_match (the answer says none matched), held_for_review (categories wait for the custodian:
// review_pending went first), refused (the audit alarm is raised or the hub's
// checkpoint was not accepted), rejected (the query did not verify or parse), unavailable (the
// record source, review queue or disclosure log failed, or the lookup queue was full), failed
// (the answer could not be sealed or was too large).
//
// Thread safety: every method is safe from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "mash/ops/prometheus_fwd.h"

namespace mash::agent {

class AgentMetrics {
 public:
  explicit AgentMetrics(prometheus::Registry& registry);

  void SetConnected(bool connected);
  void Query(std::string_view outcome);
  void AnswerLatency(std::chrono::duration<double> elapsed);
  void SetReviewQueueItems(int64_t items);
  void DisclosureLogAppended();
  void SetCertificateExpiry(const std::string& certificate, int64_t not_after);

 private:
  prometheus::Gauge& connected_;
  prometheus::Family<prometheus::Counter>& queries_;
  prometheus::Histogram& answer_seconds_;
  prometheus::Gauge& review_items_;
  prometheus::Counter& disclosure_appends_;
  prometheus::Family<prometheus::Gauge>& cert_expiry_;
};

}  // namespace mash::agent
