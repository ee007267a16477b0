// Subject matching: quality on labelled synthetic data, and speed at 1,000,000 person records.
//
//   1. Quality: GenerateSynthetic(families = 3000), every record looked up in every other
//      agency's index (EvaluateMatching); precision and recall of CONFIRMED, and the number of
//      POSSIBLE answers (which would go to custodian review).
//   2. Scale: 1,000,000 generated person records in one PersonIndex. import_per_s is the
//      in-memory index build rate (normalise + blocking keys + sort); the built-in SQLCipher
//      store does not exist yet, so this is not a database import rate. Lookup latency is
//      measured per lookup for 2,000 queries (every 500th record, as its agency holds it); the
//      p99 reported is the median of five runs' p99.
//   3. agent_rss_mb: resident set size after the index is built (VmRSS, /proc/self/status); the
//      generated records are streamed into the index, never all held at once.
//
// Last line: {"bench":"match","precision":P,"recall":R,"possible":N,"lookup_p99_ms":T,
//             "import_per_s":N,"agent_rss_mb":M}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "mash/agent/matcher.h"
#include "mash/agent/synthetic.h"

namespace {

using Clock = std::chrono::steady_clock;
using mash::agent::GenerateSynthetic;
using mash::agent::PersonIndex;
using mash::agent::SyntheticOptions;
using mash::agent::SyntheticRecord;

constexpr size_t kStoreRecords = 1'000'000;
constexpr size_t kQueries = 2000;
constexpr int kRuns = 5;

double RssMb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtod(line.c_str() + 6, nullptr) / 1024.0;
  }
  return 0;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

int main() {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  // 1. Quality.
  SyntheticOptions quality;
  quality.families = 3000;
  const auto labelled = GenerateSynthetic(quality);
  const auto q = mash::agent::EvaluateMatching(labelled);
  std::printf(
      "quality: %zu records, %zu lookups, %zu true pairs; confirmed %zu (%zu correct), "
      "possible %zu (%zu same person); precision %.4f recall %.4f\n",
      labelled.size(), q.queries, q.true_pairs, q.confirmed, q.confirmed_correct, q.possible,
      q.possible_correct, q.precision(), q.recall());

  // 2. Scale: records stream from the generator into the builder; only Add and Build are timed,
  // so import_per_s excludes generation.
  SyntheticOptions scale;
  scale.seed = 77;
  scale.families = kStoreRecords / 4;  // ~8 records per family; stop at kStoreRecords
  PersonIndex::Builder builder;
  builder.Reserve(kStoreRecords);
  std::vector<mash::schemas::Person> queries;
  Clock::duration build_time{};
  size_t seen = 0;
  GenerateSynthetic(scale, [&](SyntheticRecord&& r) {
    if (seen++ >= kStoreRecords) return;
    if (seen % (kStoreRecords / kQueries) == 0) queries.push_back(r.person);
    const auto t = Clock::now();
    builder.Add(std::move(r.record_id), r.person);
    build_time += Clock::now() - t;
  });
  if (builder.size() < kStoreRecords) {
    std::fprintf(stderr, "generated only %zu records\n", builder.size());
    return 1;
  }
  const auto t0 = Clock::now();
  const PersonIndex index = std::move(builder).Build();
  build_time += Clock::now() - t0;
  const double build_s = Seconds(build_time);
  const double import_per_s = static_cast<double>(index.size()) / build_s;
  std::printf("index: %zu records, %zu keys, built in %.2f s (%.0f records/s, in memory)\n",
              index.size(), index.key_count(), build_s, import_per_s);
  const double rss = RssMb();

  std::vector<double> p99s;
  size_t candidates = 0, max_candidates = 0, found = 0;
  for (int run = 0; run < kRuns; ++run) {
    std::vector<double> ms;
    ms.reserve(queries.size());
    for (const auto& query : queries) {
      mash::agent::LookupStats stats;
      const auto t = Clock::now();
      const auto matches = index.Lookup(query, {}, &stats);
      ms.push_back(Seconds(Clock::now() - t) * 1000.0);
      if (run == 0) {
        candidates += stats.candidates;
        max_candidates = std::max(max_candidates, stats.candidates);
        found += !matches.empty();
      }
    }
    std::sort(ms.begin(), ms.end());
    p99s.push_back(ms[ms.size() * 99 / 100]);
    std::printf("run %d: p50 %.3f ms, p99 %.3f ms, max %.3f ms\n", run + 1, ms[ms.size() / 2],
                p99s.back(), ms.back());
  }
  std::sort(p99s.begin(), p99s.end());
  const double p99 = p99s[p99s.size() / 2];
  std::printf("lookups: mean %.1f candidates, max %zu; %zu of %zu queries found a match\n",
              static_cast<double>(candidates) / queries.size(), max_candidates, found,
              queries.size());
  std::printf("rss: %.0f MB\n", rss);

  // Fixed key order, as the issue specifies it (nlohmann::json would sort the keys).
  std::printf(
      "{\"bench\":\"match\",\"precision\":%.4f,\"recall\":%.4f,\"possible\":%zu,"
      "\"lookup_p99_ms\":%.3f,\"import_per_s\":%.0f,\"agent_rss_mb\":%.0f}\n",
      q.precision(), q.recall(), q.possible, p99, import_per_s, rss);
  return 0;
}
