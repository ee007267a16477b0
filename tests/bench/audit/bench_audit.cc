// ./mash bench audit: macro figures for the audit trail (DESIGN §8).
//   - raw fsync rate: one-row transactions with synchronous=FULL on the same disk;
//   - durable appends/s with group commit (AuditLog, producers on 4 threads);
//   - full verification of a 1,000,000-event log;
//   - a subject query over that log (median of 25 different subjects).
// The last line is one JSON object:
//   {"bench":"audit","appends_per_s":N,"fsync_per_s":N,"verify_1m_s":N,"subject_query_ms":N}
//
//   mash_bench_audit [--events N] [--dir DIR]
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "mash/audit/log.h"
#include "mash/audit/query.h"
#include "mash/audit/verify.h"
#include "mash/common/clock.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/storage/database.h"

namespace {

using namespace mash;
using common::Bytes;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

constexpr int kSubjects = 100'000;

audit::AuditEvent Event(uint64_t i) {
  audit::AuditEvent e;
  e.type =
      (i % 3 == 0) ? audit::EventType::kCategoryDisclosed : audit::EventType::kCategoryWithheld;
  e.outcome = (i % 3 == 0) ? audit::Outcome::kOk : audit::Outcome::kWithheld;
  e.person = "user" + std::to_string(i % 500);
  e.role = "practitioner";
  e.organisation = "hub";
  e.agency = "agency" + std::to_string(i % 6);
  char subject[80];
  std::snprintf(subject, sizeof subject, "ps1:%064llx",
                static_cast<unsigned long long>((i * 2654435761u) % kSubjects));
  e.subjects = {subject};
  e.check_ref = "chk-" + std::to_string(i / 8);
  e.purpose = "child_protection_s47";
  e.lawful_basis = "uk_gdpr_6_1_e";
  e.consent = "not_sought";
  e.override_ground = "child_significant_harm";
  e.justification_ref = "just-" + std::to_string(i / 8);
  e.level = 2;
  e.categories = {{"police.domestic_abuse", i % 3 == 0 ? "disclosed" : "withheld",
                   i % 3 == 0 ? "" : "not_necessary"}};
  e.rule = "police.rule." + std::to_string(i % 40);
  e.policy_version = "sha256:4f2a9c0e7d61b35a8c2e4f7a9b0c1d2e3f405162738495a6b7c8d9e0f1a2b3c4";
  e.envelope_hashes = {Bytes(32, static_cast<uint8_t>(i))};
  return e;
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

std::unique_ptr<storage::Database> Open(const fs::path& file, const fs::path& key) {
  storage::DatabaseOptions o;
  o.file = file;
  o.key_file = key;
  auto db = storage::Database::Open(o);
  if (!db.ok()) {
    std::cerr << "open: " << db.status().ToString() << "\n";
    std::exit(1);
  }
  return std::move(db).value();
}

double FsyncRate(const fs::path& dir, const fs::path& key) {
  auto db = Open(dir / "fsync.db", key);
  (void)db->Exec("CREATE TABLE t(x BLOB)");
  auto ins = db->Prepare("INSERT INTO t(x) VALUES(?)");
  const Bytes row(300, 0x5a);
  int n = 0;
  const auto start = Clock::now();
  while (Clock::now() - start < std::chrono::seconds(2) && n < 5000) {
    Status s = db->InTransaction([&] {
      ins->Reset();
      ins->BindBlob(1, row);
      return ins->Run();
    });
    if (!s.ok()) {
      std::cerr << s.ToString() << "\n";
      std::exit(1);
    }
    ++n;
  }
  return n / Seconds(Clock::now() - start);
}

// Appends `n` events from `threads` producers, each keeping up to `window` in flight (a broker
// with many sessions waiting for their commit). Returns events per second, durable.
double AppendRate(audit::AuditLog& log, uint64_t n, int threads, int window) {
  std::atomic<uint64_t> next{0};
  std::atomic<uint64_t> failed{0};
  const auto start = Clock::now();
  std::vector<std::thread> producers;
  for (int t = 0; t < threads; ++t) {
    producers.emplace_back([&] {
      std::mutex mu;
      std::condition_variable cv;
      int in_flight = 0;
      for (;;) {
        const uint64_t i = next++;
        if (i >= n) break;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [&] { return in_flight < window; });
          ++in_flight;
        }
        log.Append(Event(i), [&](Result<uint64_t> r) {
          if (!r.ok()) ++failed;
          std::lock_guard lock(mu);
          --in_flight;
          cv.notify_one();
        });
      }
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight == 0; });
    });
  }
  for (auto& p : producers) p.join();
  const double secs = Seconds(Clock::now() - start);
  if (failed > 0) {
    std::cerr << failed << " appends failed\n";
    std::exit(1);
  }
  return n / secs;
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t events = 1'000'000;
  fs::path base = fs::temp_directory_path();
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--events") == 0) events = std::stoull(argv[i + 1]);
    if (std::strcmp(argv[i], "--dir") == 0) base = argv[i + 1];
  }
  common::InitCrypto();
  common::LogOptions log_options;
  log_options.service = "mash-bench";
  log_options.level = common::LogLevel::kWarn;
  log_options.to_stderr = true;
  common::InitLogging(log_options);
  const fs::path dir = base / ("mash-bench-audit-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::permissions(dir, fs::perms::owner_all);
  const fs::path key = dir / "db.key";
  (void)crypto::WriteKeyFile(key, crypto::KeyKind::kDatabaseKey,
                             crypto::GenerateSymmetricKey().span());
  auto signing = std::make_shared<crypto::SigningKey>(crypto::SigningKey::Generate());
  auto clock = std::make_shared<common::SystemClock>();

  const double fsync_per_s = FsyncRate(dir, key);
  std::printf("raw fsync (one-row transactions, synchronous=FULL): %.0f /s\n", fsync_per_s);

  double appends_per_s = 0;
  {
    audit::AuditLogOptions o;
    o.checkpoint_every_events = 1000;
    auto log = audit::AuditLog::Open(Open(dir / "append.db", key), signing, clock, o);
    if (!log.ok()) return 1;
    appends_per_s = AppendRate(**log, 200'000, 4, 4096);
  }
  std::printf("durable appends with group commit: %.0f events/s (%.0fx the fsync rate)\n",
              appends_per_s, appends_per_s / fsync_per_s);

  // The 1M-event log: the same code path, in big batches.
  const fs::path big = dir / "big.db";
  {
    audit::AuditLogOptions o;
    o.checkpoint_every_events = 10'000;
    o.max_batch = 50'000;
    auto log = audit::AuditLog::Open(Open(big, key), signing, clock, o);
    if (!log.ok()) return 1;
    const auto start = Clock::now();
    const double rate = AppendRate(**log, events, 2, 50'000);
    std::printf("built a %llu-event log in %.1f s (%.0f events/s)\n",
                static_cast<unsigned long long>(events), Seconds(Clock::now() - start), rate);
  }

  if (std::getenv("MASH_BENCH_DETAIL") != nullptr) {
    auto db = Open(big, key);
    auto t0 = Clock::now();
    auto s = db->Prepare("SELECT seq, encoded, leaf_hash, chain FROM audit_events ORDER BY seq");
    size_t bytes = 0;
    while (*s->Step()) bytes += s->ColumnBlob(1).size();
    std::printf("detail: raw scan %.2f s (%zu bytes)\n", Seconds(Clock::now() - t0), bytes);
    t0 = Clock::now();
    audit::VerifyOptions vo;
    vo.check_nodes = false;
    auto r = audit::VerifyLog(*db, signing->Public(), vo);
    std::printf("detail: verify without node/subject checks %.2f s\n", Seconds(Clock::now() - t0));
  }
  double verify_s = 0;
  {
    auto db = Open(big, key);
    const auto start = Clock::now();
    auto report = audit::VerifyLog(*db, signing->Public(), {});
    verify_s = Seconds(Clock::now() - start);
    if (!report.ok() || !report->ok || report->size != events) {
      std::cerr << "verify failed: " << (report.ok() ? report->problem : report.status().ToString())
                << "\n";
      return 1;
    }
    std::printf(
        "verify of %llu events (leaves, chain, stored nodes, subject index, %llu "
        "checkpoints): %.2f s\n",
        static_cast<unsigned long long>(events),
        static_cast<unsigned long long>(report->checkpoints_checked), verify_s);
  }

  {
    // The console's range verification: the largest range it takes, from the middle of the log.
    auto db = Open(big, key);
    const uint64_t n = std::min<uint64_t>(audit::kMaxVerifyRange, events);
    const uint64_t first = (events - n) / 2;
    const auto start = Clock::now();
    auto r = audit::VerifyRange(*db, signing->Public(), {}, first, first + n - 1);
    if (!r.ok() || !r->ok || r->entries_checked != n) {
      std::cerr << "range verify failed: " << (r.ok() ? r->problem : r.status().ToString()) << "\n";
      return 1;
    }
    std::printf("range verify of %llu entries (against the seal's root): %.2f s\n",
                static_cast<unsigned long long>(n), Seconds(Clock::now() - start));
  }

  double query_ms = 0;
  {
    auto db = Open(big, key);
    std::vector<double> times;
    size_t found = 0;
    for (int q = 0; q < 25; ++q) {
      audit::QueryFilter f;
      f.subject = audit::EventToJson(Event(static_cast<uint64_t>(q) * 7919))["subjects"][0];
      const auto start = Clock::now();
      auto r = audit::QueryEvents(*db, f);
      times.push_back(Seconds(Clock::now() - start) * 1000);
      if (!r.ok()) return 1;
      found += r->size();
    }
    std::sort(times.begin(), times.end());
    query_ms = times[times.size() / 2];
    std::printf("subject query over %llu events: median %.2f ms (%.1f events per subject)\n",
                static_cast<unsigned long long>(events), query_ms, found / 25.0);
  }
  fs::remove_all(dir);

  // Field order as specified (nlohmann::json would sort the keys).
  std::printf(
      "{\"bench\":\"audit\",\"appends_per_s\":%lld,\"fsync_per_s\":%lld,"
      "\"verify_1m_s\":%.2f,\"subject_query_ms\":%.3f}\n",
      static_cast<long long>(appends_per_s), static_cast<long long>(fsync_per_s), verify_s,
      query_ms);
  return 0;
}
