// Evaluation throughput with a realistic sharing agreement: six parties, seven purposes, 70
// rules (permits per purpose and agency, forbids, limits, time-bounded pilots). Prints Google
// Benchmark's table, then one JSON line: {"bench":"policy","decisions_per_s":N}.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <vector>

#include "mash/policy/evaluator.h"
#include "mash/policy/time_text.h"

namespace {

using mash::policy::Policy;
using mash::policy::Request;

const char* const kAgencies[] = {"police",    "social-care", "health",
                                 "education", "probation",   "housing"};
const char* const kPurposes[] = {"child-protection-s47",
                                 "child-in-need-s17",
                                 "early-help",
                                 "adult-safeguarding-s42",
                                 "marac",
                                 "mappa",
                                 "missing-child"};

std::string AgreementText() {
  std::string t = R"(kind = "sharing-agreement"
id = "bench-agreement"
owner = "DPO"
review_date = 2030-01-01
purposes = ["child-protection-s47", "child-in-need-s17", "early-help", "adult-safeguarding-s42",
            "marac", "mappa", "missing-child"]
lawful_bases = ["uk-gdpr-6-1-a", "uk-gdpr-6-1-e", "uk-gdpr-9-2-g-dpa-sch1-p18",
                "dpa-2018-part3-sch8-p4"]
[overrides]
grounds = ["child_significant_harm", "adult_serious_harm", "serious_crime", "unjustified_delay"]
obligations = ["second_approver", "record_reason"]
)";
  for (const char* a : kAgencies) {
    t += "[[party]]\nid = \"" + std::string(a) + "\"\ntype = \"" + a + "\"\n";
  }
  t += "[[rule]]\nid = \"staff-only\"\neffect = \"forbid\"\nroles = [\"dpo\", \"ig_officer\"]\n";
  t += "[[rule]]\nid = \"refused\"\neffect = \"forbid\"\nconsent_states = [\"refused\"]\n"
       "override_grounds = [\"none\"]\n";
  int n = 0;
  for (const char* p : kPurposes) {
    for (const char* a : kAgencies) {
      const std::string id = std::string(p) + "-" + a;
      t += "[[rule]]\nid = \"" + id +
           "\"\neffect = \"permit\"\nroles = [\"practitioner\", "
           "\"manager\"]\npurposes = [\"" +
           p + "\"]\nagencies = [\"" + a +
           "\"]\n"
           "lawful_bases = [\"uk-gdpr-6-1-e\", \"uk-gdpr-9-2-g-dpa-sch1-p18\", "
           "\"dpa-2018-part3-sch8-p4\"]\nmax_level = " +
           std::to_string(1 + n % 2) + "\nobligations = [\"record_reason\"]\n";
      if (n % 3 == 0) {
        t += "[[rule]]\nid = \"" + id + "-red\"\neffect = \"permit\"\npurposes = [\"" + p +
             "\"]\nagencies = [\"" + a +
             "\"]\nurgencies = [\"red\"]\nmax_level = 3\n"
             "valid_until = 2029-01-01T00:00:00Z\n";
      }
      ++n;
    }
  }
  t += "[[rule]]\nid = \"green-not-sought\"\neffect = \"limit\"\nconsent_states = "
       "[\"not_sought\"]\noverride_grounds = [\"none\"]\nurgencies = [\"green\"]\nmax_level = 0\n";
  t += "[[rule]]\nid = \"no-early-help-police\"\neffect = \"forbid\"\npurposes = "
       "[\"early-help\"]\nagencies = [\"police\", \"probation\"]\n";
  return t;
}

const Policy& BenchPolicy() {
  static const Policy p = [] {
    auto r = mash::policy::ParsePolicyOrError(AgreementText(), "bench.toml");
    if (!r.ok()) {
      std::fprintf(stderr, "%s\n", r.status().message().c_str());
      std::abort();
    }
    return *r;
  }();
  return p;
}

std::vector<Request> Requests() {
  std::vector<Request> out;
  const char* consents[] = {"given", "not_sought", "refused", "given"};
  const char* grounds[] = {"", "", "", "child_significant_harm"};
  const char* urgencies[] = {"red", "amber", "green"};
  int i = 0;
  for (const char* p : kPurposes) {
    for (const char* a : kAgencies) {
      Request r;
      r.role = i % 11 == 0 ? "ig_officer" : "practitioner";
      r.purpose = p;
      r.lawful_basis = i % 5 == 0 ? "uk-gdpr-6-1-a" : "uk-gdpr-6-1-e";
      r.consent_state = consents[i % 4];
      r.override_ground = grounds[i % 4];
      r.urgency = urgencies[i % 3];
      r.agency = a;
      r.level = 1 + i % 3;
      out.push_back(std::move(r));
      ++i;
    }
  }
  return out;
}

void BM_EvaluateMixed(benchmark::State& state) {
  const Policy& p = BenchPolicy();
  const std::vector<Request> requests = Requests();
  const int64_t now = *mash::policy::ParseTime("2026-11-22T10:00:00Z");
  size_t i = 0;
  for (auto _ : state) {
    auto d = mash::policy::Evaluate(p, requests[i], now);
    benchmark::DoNotOptimize(d);
    if (++i == requests.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["rules"] = static_cast<double>(p.rules.size());
}
BENCHMARK(BM_EvaluateMixed)->MinTime(1.0);

// Keeps the throughput of the main benchmark for the JSON line.
class CapturingReporter : public benchmark::ConsoleReporter {
 public:
  // No colour: the last line must be plain JSON even on a terminal.
  CapturingReporter() : ConsoleReporter(OO_Tabular) {}
  double decisions_per_s = 0;
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& run : runs) {
      if (run.benchmark_name().rfind("BM_EvaluateMixed", 0) != 0 || run.error_occurred) continue;
      const double seconds_per_iter =
          run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit);
      if (seconds_per_iter > 0) decisions_per_s = 1.0 / seconds_per_iter;
    }
    ConsoleReporter::ReportRuns(runs);
  }
};

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  CapturingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  std::printf("{\"bench\":\"policy\",\"decisions_per_s\":%.0f}\n", reporter.decisions_per_s);
  return reporter.decisions_per_s > 0 ? 0 : 1;
}
