// The audit store: group commit, checkpoints, seal, receipts and witnesses, fail closed,
// retention, queries and exports.
#include "mash/audit/log.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <sstream>
#include <thread>

#include "audit_test_util.h"
#include "mash/audit/query.h"
#include "mash/audit/witness.h"

namespace mash::audit {
namespace {

using testing::AuditStoreTest;
using testing::MakeEvent;

TEST_F(AuditStoreTest, GroupCommitAssignsContiguousSequenceNumbers) {
  auto log = OpenLogOrDie();
  ASSERT_NE(log, nullptr);
  constexpr int kEvents = 2000;
  std::mutex mu;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < kEvents; ++i) {
    log->Append(MakeEvent(i), [&](Result<uint64_t> r) {
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      std::lock_guard lock(mu);
      seqs.push_back(*r);
    });
  }
  log->Flush();
  ASSERT_EQ(seqs.size(), static_cast<size_t>(kEvents));
  for (int i = 0; i < kEvents; ++i) EXPECT_EQ(seqs[i], static_cast<uint64_t>(i));
  EXPECT_EQ(log->Size(), static_cast<uint64_t>(kEvents));
  // Far fewer transactions than events: a checkpoint every 16 events, but at most one per batch.
  auto cp = log->LatestCheckpoint();
  ASSERT_TRUE(cp.has_value());
  EXPECT_GE(cp->checkpoint.size, static_cast<uint64_t>(kEvents - 16));
  log.reset();
  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.size, static_cast<uint64_t>(kEvents));
}

TEST_F(AuditStoreTest, InvalidEventIsRefusedAloneNotItsBatch) {
  auto log = OpenLogOrDie();
  AuditEvent bad = MakeEvent(1);
  bad.person = "line\nbreak";
  std::promise<Status> bad_result;
  log->Append(bad, [&](Result<uint64_t> r) { bad_result.set_value(r.status()); });
  auto good = log->AppendAndWait(MakeEvent(2));
  EXPECT_TRUE(good.ok());
  EXPECT_EQ(bad_result.get_future().get().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log->Size(), 1u);
}

TEST_F(AuditStoreTest, CheckpointsEveryNEventsAndEveryTSeconds) {
  AuditLogOptions o = Options();
  o.checkpoint_every_events = 10;
  o.checkpoint_every = std::chrono::milliseconds(50);
  auto log = OpenLogOrDie(o);
  for (int i = 0; i < 25; ++i) ASSERT_TRUE(log->AppendAndWait(MakeEvent(i)).ok());
  auto cp = log->LatestCheckpoint();
  ASSERT_TRUE(cp.has_value());
  EXPECT_EQ(cp->checkpoint.size, 20u);
  // Time passes with 5 unsigned events: the committer signs them without a new append.
  clock_->Advance(std::chrono::seconds(1));
  for (int i = 0; i < 100 && log->LatestCheckpoint()->checkpoint.size != 25; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(log->LatestCheckpoint()->checkpoint.size, 25u);
}

TEST_F(AuditStoreTest, ReceiptsVerifyAtTheWitnessAndEveryProofChecks) {
  auto log = OpenLogOrDie();
  Witness witness(key_->Public(), "mash-broker.test");
  for (int i = 0; i < 60; ++i) {
    auto seq = log->AppendAndWait(MakeEvent(i));
    ASSERT_TRUE(seq.ok());
    auto receipt = log->MakeReceipt(*seq, witness.held_size());
    ASSERT_TRUE(receipt.ok()) << receipt.status().ToString();
    // Through JSON, as on the wire.
    auto wire = Receipt::FromJson(nlohmann::json::parse(receipt->ToJson().dump()));
    ASSERT_TRUE(wire.ok());
    Status s = witness.VerifyReceipt(*wire);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(witness.held_size(), *seq + 1);
  }
  const uint64_t n = log->Size();
  auto cp = log->Checkpoint();
  ASSERT_TRUE(cp.ok());
  for (uint64_t m = 1; m <= n; m += 7) {
    auto proof = log->ConsistencyProof(m, n);
    ASSERT_TRUE(proof.ok());
  }
  // A receipt whose leaf was altered is refused and does not alarm.
  auto receipt = log->MakeReceipt(3, witness.held_size());
  ASSERT_TRUE(receipt.ok());
  receipt->leaf_hash[0] ^= 1;
  EXPECT_FALSE(witness.VerifyReceipt(*receipt).ok());
  EXPECT_FALSE(witness.alarmed());
}

TEST_F(AuditStoreTest, FailsClosedWhenTheStoreIsFull) {
  auto log = OpenLogOrDie();
  ASSERT_TRUE(log->AppendAndWait(MakeEvent(0)).ok());
  log.reset();
  auto db = OpenDb();
  ASSERT_TRUE(db->Exec("PRAGMA max_page_count = 1").ok());  // SQLite clamps to the current count
  auto opened = AuditLog::Open(std::move(db), key_, clock_, Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  log = std::move(opened).value();
  const uint64_t before = log->Size();
  // The "answer" is released only from a successful callback.
  std::atomic<int> released{0};
  std::promise<Status> refusal;
  AuditEvent big = MakeEvent(1);
  big.detail = std::string(4000, 'x');
  for (int i = 0; i < 3; ++i) big.subjects.push_back("ps1:" + std::string(4000, 'a' + i));
  log->Append(big, [&](Result<uint64_t> r) {
    if (r.ok()) {
      ++released;
      refusal.set_value(Status::Ok());
    } else {
      refusal.set_value(r.status());
    }
  });
  Status s = refusal.get_future().get();
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  EXPECT_EQ(released.load(), 0);
  EXPECT_EQ(log->Size(), before);
  log.reset();
  // Nothing half-written: the log still verifies and accepts events once there is room.
  EXPECT_TRUE(Verify().ok);
  auto reopened = OpenLogOrDie();
  EXPECT_TRUE(reopened->AppendAndWait(big).ok());
}

TEST_F(AuditStoreTest, FailsClosedWhenTheStoreIsUnwritable) {
  BuildLog(3);
  {
    // With its start-up check (which records what it verified) the log refuses to start.
    auto db = OpenDb();
    ASSERT_TRUE(db->Exec("PRAGMA query_only = 1").ok());
    EXPECT_FALSE(AuditLog::Open(std::move(db), key_, clock_, Options()).ok());
  }
  // At run time: another process holds the write lock, so no transaction can commit.
  storage::DatabaseOptions options;
  options.file = db_file_;
  options.key_file = db_key_file_;
  options.busy_timeout_ms = 200;
  auto db = storage::Database::Open(options);
  ASSERT_TRUE(db.ok());
  auto opened = AuditLog::Open(std::move(db).value(), key_, clock_, Options());
  ASSERT_TRUE(opened.ok()) << opened.status().ToString();
  auto log = std::move(opened).value();
  auto blocker = OpenDb();
  ASSERT_TRUE(blocker->Exec("BEGIN IMMEDIATE").ok());
  bool released = false;
  auto r = log->AppendAndWait(MakeEvent(9));
  if (r.ok()) released = true;
  EXPECT_FALSE(released);
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  EXPECT_EQ(log->Size(), 3u);
  // Once the store is writable again, appends commit and the log verifies.
  ASSERT_TRUE(blocker->Exec("ROLLBACK").ok());
  EXPECT_TRUE(log->AppendAndWait(MakeEvent(10)).ok());
  log.reset();
  EXPECT_TRUE(Verify().ok);
}

TEST_F(AuditStoreTest, OnlyOneWriterPerDatabase) {
  auto log = OpenLogOrDie();
  auto second = OpenLog(Options());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
}

TEST_F(AuditStoreTest, QueryBySubjectPersonAgencyAndTime) {
  BuildLog(100);
  auto db = OpenDb();
  QueryFilter f;
  f.subject = "ps1:subject3";
  auto r = QueryEvents(*db, f);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 9u);  // i % 11 == 3 for i < 100
  for (const auto& e : *r) EXPECT_EQ(e.subjects[0], "ps1:subject3");
  f = {};
  f.person = "user2";
  f.agency = "police";
  f.type = EventType::kCategoryWithheld;
  r = QueryEvents(*db, f);
  ASSERT_TRUE(r.ok());
  for (const auto& e : *r) {
    EXPECT_EQ(e.person, "user2");
    EXPECT_EQ(e.agency, "police");
    EXPECT_EQ(e.type, EventType::kCategoryWithheld);
  }
  EXPECT_FALSE(r->empty());
  f = {};
  const int64_t t0 = 1'790'000'000'000;
  f.from_ms = t0 + 10'000;
  f.to_ms = t0 + 20'000;
  f.outcome = Outcome::kOk;
  r = QueryEvents(*db, f);
  ASSERT_TRUE(r.ok());
  for (const auto& e : *r) {
    EXPECT_GE(e.time_ms, *f.from_ms);
    EXPECT_LT(e.time_ms, *f.to_ms);
    EXPECT_EQ(e.outcome, Outcome::kOk);
  }
  EXPECT_EQ(r->size(), 3u);  // i in 10..19 with i % 3 == 0: 12, 15, 18
  EXPECT_NE(CsvRow(r->front()).find("child_protection_s47"), std::string::npos);
}

TEST_F(AuditStoreTest, ExportVerifiesOfflineAndNamesATamperedLine) {
  BuildLog(40);
  std::stringstream out;
  {
    auto db = OpenDb();
    auto n = ExportLog(*db, out);
    ASSERT_TRUE(n.ok());
    EXPECT_EQ(*n, 40u);
  }
  const std::string text = out.str();
  std::istringstream in(text);
  auto report = VerifyExport(in, key_->Public(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->ok) << report->problem;
  EXPECT_EQ(report->size, 40u);

  // Change the readable person of event 12 only: caught, and entry 12 named.
  std::string tampered = text;
  const std::string needle = "\"seq\":12,";
  const size_t line_start =
      tampered.rfind('\n', tampered.find("\"event\":{", tampered.find(needle) - 200));
  (void)line_start;
  std::istringstream lines(text);
  std::string line, rebuilt;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "event" && j["seq"] == 12) j["event"]["person"] = "someone-else";
    rebuilt += j.dump() + "\n";
  }
  std::istringstream bad(rebuilt);
  report = VerifyExport(bad, key_->Public(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_seq, 12u);

  // A dropped event line.
  std::istringstream lines2(text);
  rebuilt.clear();
  while (std::getline(lines2, line)) {
    auto j = nlohmann::json::parse(line);
    if (j["type"] == "event" && j["seq"] == 30) continue;
    rebuilt += line + "\n";
  }
  std::istringstream dropped(rebuilt);
  report = VerifyExport(dropped, key_->Public(), {});
  ASSERT_TRUE(report.ok());
  EXPECT_FALSE(report->ok);
  EXPECT_EQ(report->first_bad_seq, 30u);
}

TEST_F(AuditStoreTest, RetentionRemovesOldEventsAndWhatRemainsVerifies) {
  AuditLogOptions o = Options();
  o.retention = std::chrono::seconds(30);
  auto log = OpenLogOrDie(o);
  AppendRange(*log, 0, 50);  // one second apart
  Witness witness(key_->Public(), "mash-broker.test");
  ASSERT_TRUE(witness.Observe(log->Checkpoint()->text, {}).ok());
  // Retention of 30 s at t0 + 50 s: events from t0 .. t0 + 19 s go.
  auto removed = log->PurgeExpired();
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_EQ(*removed, 20u);
  auto cp = log->LatestCheckpoint();
  EXPECT_EQ(cp->checkpoint.retained_from, 20u);
  EXPECT_EQ(cp->checkpoint.size, 51u);  // 50 events and the retention_purge event
  // The agency's held checkpoint is still consistent with the purged log.
  auto proof = log->ConsistencyProof(witness.held_size(), cp->checkpoint.size);
  ASSERT_TRUE(proof.ok());
  EXPECT_TRUE(witness.Observe(cp->text, *proof).ok());
  // Receipts for kept events still verify.
  auto receipt = log->MakeReceipt(25, witness.held_size());
  ASSERT_TRUE(receipt.ok());
  EXPECT_TRUE(witness.VerifyReceipt(*receipt).ok());
  AppendRange(*log, 50, 55);
  log.reset();

  VerifyReport report = Verify();
  EXPECT_TRUE(report.ok) << report.problem;
  EXPECT_EQ(report.retained_from, 20u);
  {
    // A range across the purged and the kept entries verifies against the seal.
    auto db = OpenDb();
    auto range = VerifyRange(*db, key_->Public(), {}, 15, 25);
    ASSERT_TRUE(range.ok()) << range.status().ToString();
    EXPECT_TRUE(range->ok) << range->problem;
    EXPECT_EQ(range->entries_checked, 11u);
  }
  auto db = OpenDb();
  QueryFilter f;
  f.subject = "ps1:subject3";
  auto r = QueryEvents(*db, f);
  ASSERT_TRUE(r.ok());
  for (const auto& e : *r) EXPECT_GE(e.seq, 20u);
  std::stringstream out;
  ASSERT_TRUE(ExportLog(*db, out).ok());
  auto exported = VerifyExport(out, key_->Public(), {});
  EXPECT_TRUE(exported->ok) << exported->problem;
  // A purged leaf hash removed: the tree no longer matches.
  ASSERT_TRUE(db->Exec("DELETE FROM audit_purged WHERE seq = 5").ok());
  db.reset();
  report = Verify();
  EXPECT_FALSE(report.ok);
  EXPECT_EQ(report.first_bad_seq, 5u);
}

}  // namespace
}  // namespace mash::audit
