// The broker's Prometheus metrics (served by the ops listener, ops/server.h). Every family is
// registered once, in the constructor, on a registry the caller owns (the broker makes one;
// tests pass their own and read it). Names carry their unit; labels are agency ids, check
// states, answer outcomes, alert kinds, certificate roles and HTTP status classes only: never a
// person, a subject, a check id or a token.
//
//   mash_broker_agent_connected{agency}                 gauge 0/1
//   mash_broker_checks{state}                           gauge, checks held by overall state
//   mash_broker_checks_raised_total                     counter
//   mash_broker_answers_received_total{agency,outcome}  counter; outcome: confirmed | possible |
//                                                       none (the match band the answer
//                                                       reports) | rejected | unmatched
//   mash_broker_check_compiled_seconds                  histogram, raise to every part settled
//   mash_broker_answer_round_trip_seconds{agency}       histogram, query handed over to answer
//   mash_broker_audit_appends_total                     counter, events committed
//   mash_broker_audit_fsync_batches_total               counter, transactions committed
//   mash_broker_audit_commit_failures_total             counter, transactions that failed
//   mash_broker_audit_batch_events                      histogram, events per transaction
//   mash_broker_ig_alerts_open{kind}                    gauge, IG alerts not closed
//   mash_broker_api_requests_total{status_class}        counter; 2xx 3xx 4xx 5xx
//   mash_broker_certificate_expiry_timestamp_seconds{certificate}
//                                                       gauge, notAfter in Unix seconds;
//                                                       agent_listener | api_listener | hub_ca |
//                                                       issuing_ca
//
// Thread safety: every method is safe from any thread (prometheus-cpp metrics are atomic and
// families lock when a new label set is added). The audit counters are called from the audit
// log's committer thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "mash/ops/prometheus_fwd.h"

namespace mash::broker {

class BrokerMetrics {
 public:
  explicit BrokerMetrics(prometheus::Registry& registry);

  void AgentConnected(const std::string& agency, bool online);
  void CheckRaised();
  void AnswerReceived(const std::string& agency, std::string_view outcome);
  void CheckCompiled(std::chrono::duration<double> since_raise);
  void AnswerRoundTrip(const std::string& agency, std::chrono::duration<double> elapsed);
  // One audit transaction: `events` appended, committed or not.
  void AuditCommit(size_t events, bool committed);
  // Sets every known check state (those absent to 0) from `by_state`.
  void SetChecksByState(const std::map<std::string, size_t>& by_state);
  // Sets the open alerts of every kind seen so far (kinds absent now to 0).
  void SetOpenAlerts(const std::map<std::string, size_t>& by_kind);
  void SetCertificateExpiry(const std::string& certificate, int64_t not_after);
  void ApiRequest(unsigned status);

 private:
  prometheus::Family<prometheus::Gauge>& agent_connected_;
  prometheus::Family<prometheus::Gauge>& checks_;
  prometheus::Counter& checks_raised_;
  prometheus::Family<prometheus::Counter>& answers_;
  prometheus::Histogram& check_compiled_;
  prometheus::Family<prometheus::Histogram>& round_trip_;
  prometheus::Counter& audit_appends_;
  prometheus::Counter& audit_batches_;
  prometheus::Counter& audit_failures_;
  prometheus::Histogram& audit_batch_events_;
  prometheus::Family<prometheus::Gauge>& alerts_open_;
  prometheus::Family<prometheus::Counter>& api_requests_;
  prometheus::Family<prometheus::Gauge>& cert_expiry_;
};

}  // namespace mash::broker
