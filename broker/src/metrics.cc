#include "mash/broker/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>

namespace mash::broker {
namespace {

// Checks raised to six agencies settle in milliseconds on loopback and in minutes when an agency
// is offline; the buckets span both (seconds).
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600};
const prometheus::Histogram::BucketBoundaries kBatchBuckets = {1,  2,   4,   8,    16,  32,
                                                               64, 128, 256, 1024, 8192};
// The overall states a check is shown with (CheckService::OverallState).
constexpr std::array<std::string_view, 7> kCheckStates = {
    "awaiting_authorisation", "rejected", "answered", "dispatched",
    "partially_answered",     "expired",  "closed"};

}  // namespace

BrokerMetrics::BrokerMetrics(prometheus::Registry& r)
    : agent_connected_(prometheus::BuildGauge()
                           .Name("mash_broker_agent_connected")
                           .Help("1 while the agency's agent holds a welcomed connection")
                           .Register(r)),
      checks_(prometheus::BuildGauge()
                  .Name("mash_broker_checks")
                  .Help("Checks held by the broker, by overall state")
                  .Register(r)),
      checks_raised_(prometheus::BuildCounter()
                         .Name("mash_broker_checks_raised_total")
                         .Help("Checks raised (check_raised committed)")
                         .Register(r)
                         .Add({})),
      answers_(prometheus::BuildCounter()
                   .Name("mash_broker_answers_received_total")
                   .Help("Answer envelopes received from agents, by agency and outcome")
                   .Register(r)),
      check_compiled_(prometheus::BuildHistogram()
                          .Name("mash_broker_check_compiled_seconds")
                          .Help("Time from raising a check to every agency's part settled")
                          .Register(r)
                          .Add({}, kLatencyBuckets)),
      round_trip_(prometheus::BuildHistogram()
                      .Name("mash_broker_answer_round_trip_seconds")
                      .Help("Time from handing a query to an agency's connection to its answer")
                      .Register(r)),
      audit_appends_(prometheus::BuildCounter()
                         .Name("mash_broker_audit_appends_total")
                         .Help("Audit events committed to the log")
                         .Register(r)
                         .Add({})),
      audit_batches_(prometheus::BuildCounter()
                         .Name("mash_broker_audit_fsync_batches_total")
                         .Help("Audit transactions committed (one fsync each)")
                         .Register(r)
                         .Add({})),
      audit_failures_(prometheus::BuildCounter()
                          .Name("mash_broker_audit_commit_failures_total")
                          .Help("Audit transactions that failed (nothing in them was recorded)")
                          .Register(r)
                          .Add({})),
      audit_batch_events_(prometheus::BuildHistogram()
                              .Name("mash_broker_audit_batch_events")
                              .Help("Audit events per committed transaction")
                              .Register(r)
                              .Add({}, kBatchBuckets)),
      alerts_open_(prometheus::BuildGauge()
                       .Name("mash_broker_ig_alerts_open")
                       .Help("IG alerts not closed, by kind")
                       .Register(r)),
      api_requests_(prometheus::BuildCounter()
                        .Name("mash_broker_api_requests_total")
                        .Help("HTTPS API and console responses, by status class")
                        .Register(r)),
      cert_expiry_(prometheus::BuildGauge()
                       .Name("mash_broker_certificate_expiry_timestamp_seconds")
                       .Help("notAfter of the broker's certificates, Unix seconds")
                       .Register(r)) {
  SetChecksByState({});
  for (const char* cls : {"2xx", "3xx", "4xx", "5xx"}) {
    api_requests_.Add({{"status_class", cls}});
  }
}

void BrokerMetrics::AgentConnected(const std::string& agency, bool online) {
  agent_connected_.Add({{"agency", agency}}).Set(online ? 1 : 0);
}

void BrokerMetrics::CheckRaised() { checks_raised_.Increment(); }

void BrokerMetrics::AnswerReceived(const std::string& agency, std::string_view outcome) {
  answers_.Add({{"agency", agency}, {"outcome", std::string(outcome)}}).Increment();
}

void BrokerMetrics::CheckCompiled(std::chrono::duration<double> since_raise) {
  check_compiled_.Observe(since_raise.count());
}

void BrokerMetrics::AnswerRoundTrip(const std::string& agency,
                                    std::chrono::duration<double> elapsed) {
  round_trip_.Add({{"agency", agency}}, kLatencyBuckets).Observe(elapsed.count());
}

void BrokerMetrics::AuditCommit(size_t events, bool committed) {
  if (!committed) {
    audit_failures_.Increment();
    return;
  }
  audit_batches_.Increment();
  audit_appends_.Increment(static_cast<double>(events));
  audit_batch_events_.Observe(static_cast<double>(events));
}

void BrokerMetrics::SetChecksByState(const std::map<std::string, size_t>& by_state) {
  for (std::string_view s : kCheckStates) {
    const auto it = by_state.find(std::string(s));
    checks_.Add({{"state", std::string(s)}})
        .Set(it == by_state.end() ? 0 : static_cast<double>(it->second));
  }
}

void BrokerMetrics::SetOpenAlerts(const std::map<std::string, size_t>& by_kind) {
  for (const auto& [kind, n] : by_kind) {
    alerts_open_.Add({{"kind", kind}}).Set(static_cast<double>(n));
  }
  // Kinds seen before and absent now have no open alerts.
  for (const auto& family : alerts_open_.Collect()) {
    for (const auto& m : family.metric) {
      for (const auto& label : m.label) {
        if (label.name == "kind" && by_kind.count(label.value) == 0) {
          alerts_open_.Add({{"kind", label.value}}).Set(0);
        }
      }
    }
  }
}

void BrokerMetrics::SetCertificateExpiry(const std::string& certificate, int64_t not_after) {
  cert_expiry_.Add({{"certificate", certificate}}).Set(static_cast<double>(not_after));
}

void BrokerMetrics::ApiRequest(unsigned status) {
  const char* cls = status < 300 ? "2xx" : status < 400 ? "3xx" : status < 500 ? "4xx" : "5xx";
  api_requests_.Add({{"status_class", cls}}).Increment();
}

}  // namespace mash::broker
