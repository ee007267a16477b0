#include "mash/agent/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

namespace mash::agent {
namespace {

// A lookup in the built-in store takes milliseconds; a command connector up to its timeout.
const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace

AgentMetrics::AgentMetrics(prometheus::Registry& r)
    : connected_(prometheus::BuildGauge()
                     .Name("mash_agent_connected")
                     .Help("1 while the agent holds a welcomed connection to the hub")
                     .Register(r)
                     .Add({})),
      queries_(prometheus::BuildCounter()
                   .Name("mash_agent_queries_total")
                   .Help("Queries received from the hub, by outcome")
                   .Register(r)),
      answer_seconds_(prometheus::BuildHistogram()
                          .Name("mash_agent_answer_seconds")
                          .Help("Time from a query frame arriving to its answer being queued")
                          .Register(r)
                          .Add({}, kLatencyBuckets)),
      review_items_(prometheus::BuildGauge()
                        .Name("mash_agent_review_queue_items")
                        .Help("Review items waiting for the agency's custodian")
                        .Register(r)
                        .Add({})),
      disclosure_appends_(prometheus::BuildCounter()
                              .Name("mash_agent_disclosure_log_appends_total")
                              .Help("Answers recorded in the disclosure log")
                              .Register(r)
                              .Add({})),
      cert_expiry_(prometheus::BuildGauge()
                       .Name("mash_agent_certificate_expiry_timestamp_seconds")
                       .Help("notAfter of the agent's certificates, Unix seconds")
                       .Register(r)) {
  for (const char* outcome : {"answered", "no_match", "held_for_review", "refused", "rejected",
                              "unavailable", "failed"}) {
    queries_.Add({{"outcome", outcome}});
  }
}

void AgentMetrics::SetConnected(bool connected) { connected_.Set(connected ? 1 : 0); }

void AgentMetrics::Query(std::string_view outcome) {
  queries_.Add({{"outcome", std::string(outcome)}}).Increment();
}

void AgentMetrics::AnswerLatency(std::chrono::duration<double> elapsed) {
  answer_seconds_.Observe(elapsed.count());
}

void AgentMetrics::SetReviewQueueItems(int64_t items) {
  review_items_.Set(static_cast<double>(items));
}

void AgentMetrics::DisclosureLogAppended() { disclosure_appends_.Increment(); }

void AgentMetrics::SetCertificateExpiry(const std::string& certificate, int64_t not_after) {
  cert_expiry_.Add({{"certificate", certificate}}).Set(static_cast<double>(not_after));
}

}  // namespace mash::agent
