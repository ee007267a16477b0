#include "mash/storage/replay_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "storage_test_util.h"

namespace mash::storage {
namespace {

using testing::StorageTest;

class ReplayStoreTest : public StorageTest {
 protected:
  void SetUp() override {
    StorageTest::SetUp();
    Reopen();
  }

  void Reopen() {
    store_.reset();
    db_.reset();
    db_ = OpenOrDie();
    ASSERT_NE(db_, nullptr);
    auto store = SqlReplayStore::Create(db_.get());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }

  int64_t CountIds() {
    auto stmt = db_->Prepare("SELECT count(*) FROM replay_ids");
    EXPECT_TRUE(stmt.ok());
    EXPECT_TRUE(stmt->Step().value());
    return stmt->ColumnInt(0);
  }

  std::unique_ptr<Database> db_;
  std::unique_ptr<SqlReplayStore> store_;
};

constexpr int64_t kKeep = 2'000'000'000;

TEST_F(ReplayStoreTest, AcceptsNewIdAndRefusesSameId) {
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-1", 1, kKeep).ok());
  Status again = store_->CheckAndRecord("agency-a", "id-1", 2, kKeep);
  EXPECT_EQ(again.code(), StatusCode::kAlreadyExists) << again.ToString();
  EXPECT_EQ(again.message(), "replayed");
  // Same id with the same sequence too.
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-1", 1, kKeep).code(),
            StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-2", 2, kKeep).ok());
  EXPECT_EQ(CountIds(), 2);
}

TEST_F(ReplayStoreTest, RefusesLowerOrEqualSequence) {
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "id-1", 5, kKeep).ok());
  Status equal = store_->CheckAndRecord("agency-a", "id-2", 5, kKeep);
  EXPECT_EQ(equal.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(equal.message(), "sequence not increasing");
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-3", 4, kKeep).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-4", 0, kKeep).code(),
            StatusCode::kAlreadyExists);
  // Refused messages are not recorded and do not move the sequence.
  EXPECT_EQ(CountIds(), 1);
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-5", 6, kKeep).ok());
  // Gaps are allowed.
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-6", 100, kKeep).ok());
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-7", 99, kKeep).code(),
            StatusCode::kAlreadyExists);
}

TEST_F(ReplayStoreTest, SequenceZeroIsNeverAccepted) {
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-1", 0, kKeep).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(CountIds(), 0);
}

TEST_F(ReplayStoreTest, SendersAreIndependent) {
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "id-1", 10, kKeep).ok());
  EXPECT_TRUE(store_->CheckAndRecord("agency-b", "id-1", 1, kKeep).ok());
  EXPECT_TRUE(store_->CheckAndRecord("hub", "id-9", 1, kKeep).ok());
  EXPECT_EQ(store_->CheckAndRecord("agency-b", "id-2", 1, kKeep).code(),
            StatusCode::kAlreadyExists);
}

TEST_F(ReplayStoreTest, RefusesSequenceBeyondStorableRange) {
  Status s = store_->CheckAndRecord("agency-a", "id-1", uint64_t{1} << 63, kKeep);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(CountIds(), 0);
}

TEST_F(ReplayStoreTest, SurvivesRestart) {
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "id-1", 7, kKeep).ok());
  Reopen();
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-1", 8, kKeep).code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-2", 7, kKeep).code(),
            StatusCode::kAlreadyExists);
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-3", 8, kKeep).ok());
}

TEST_F(ReplayStoreTest, PurgeRemovesOnlyExpired) {
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "old", 1, 100).ok());
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "edge", 2, 200).ok());
  ASSERT_TRUE(store_->CheckAndRecord("agency-b", "new", 1, 300).ok());

  auto purged = store_->Purge(200);
  ASSERT_TRUE(purged.ok()) << purged.status().ToString();
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(CountIds(), 2);
  // Still remembered.
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "edge", 9, kKeep).message(), "replayed");
  EXPECT_EQ(store_->CheckAndRecord("agency-b", "new", 9, kKeep).message(), "replayed");
  // The purged id is forgotten, but its sequence still protects against a replay.
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "old", 1, kKeep).message(),
            "sequence not increasing");

  EXPECT_EQ(store_->Purge(200).value(), 0);
  EXPECT_EQ(store_->Purge(301).value(), 2);
  EXPECT_EQ(CountIds(), 0);
}

// Group commit: queued records are checked like recorded ones (against the stored and the
// queued), stored only by CommitQueued, all in one transaction, and survive a restart.
TEST_F(ReplayStoreTest, QueuedRecordsAreCheckedAtOnceAndStoredOnCommit) {
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "stored", 3, kKeep).ok());
  EXPECT_EQ(store_->CheckAndQueue("agency-a", "stored", 9, kKeep).message(), "replayed");
  EXPECT_EQ(store_->CheckAndQueue("agency-a", "low", 3, kKeep).message(),
            "sequence not increasing");
  ASSERT_TRUE(store_->CheckAndQueue("agency-a", "q1", 4, kKeep).ok());
  ASSERT_TRUE(store_->CheckAndQueue("agency-b", "q2", 1, kKeep).ok());
  // A queued id or sequence is refused on either path before it is committed.
  EXPECT_EQ(store_->CheckAndQueue("agency-a", "q1", 5, kKeep).message(), "replayed");
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "q1", 5, kKeep).message(), "replayed");
  EXPECT_EQ(store_->CheckAndQueue("agency-a", "other", 4, kKeep).message(),
            "sequence not increasing");
  EXPECT_EQ(store_->queued(), 2u);
  EXPECT_EQ(CountIds(), 1);
  ASSERT_TRUE(store_->CommitQueued().ok());
  EXPECT_EQ(store_->queued(), 0u);
  EXPECT_EQ(CountIds(), 3);
  Reopen();
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "q1", 9, kKeep).message(), "replayed");
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "x", 4, kKeep).message(), "sequence not increasing");
  EXPECT_EQ(store_->CheckAndRecord("agency-b", "y", 1, kKeep).message(), "sequence not increasing");
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "x", 5, kKeep).ok());
}

// A record made at once with a higher sequence while a lower one waits in the queue: the commit
// never lowers the stored sequence.
TEST_F(ReplayStoreTest, CommitNeverLowersTheStoredSequence) {
  ASSERT_TRUE(store_->CheckAndQueue("agency-a", "q", 5, kKeep).ok());
  ASSERT_TRUE(store_->CheckAndRecord("agency-a", "now", 8, kKeep).ok());
  ASSERT_TRUE(store_->CommitQueued().ok());
  Reopen();
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "z", 6, kKeep).message(), "sequence not increasing");
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "z", 9, kKeep).ok());
}

// A commit that cannot be written stores nothing and says so; the queue is emptied (its messages
// are refused by the caller), and nothing of it is remembered.
TEST_F(ReplayStoreTest, FailedCommitStoresNothing) {
  auto other = OpenOrDie();
  ASSERT_NE(other, nullptr);
  store_.reset();
  db_ = OpenOrDie(/*busy_timeout_ms=*/50);
  ASSERT_NE(db_, nullptr);
  store_ = SqlReplayStore::Create(db_.get()).value();
  ASSERT_TRUE(store_->CheckAndQueue("agency-a", "q", 1, kKeep).ok());
  ASSERT_TRUE(other->Begin().ok());
  EXPECT_EQ(store_->CommitQueued().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(other->Rollback().ok());
  EXPECT_EQ(store_->queued(), 0u);
  EXPECT_EQ(CountIds(), 0);
}

TEST_F(ReplayStoreTest, FailsClosedWhenStorageIsUnavailable) {
  // Another connection holds the write lock; this store's connection gives up after 50 ms.
  auto other = OpenOrDie();
  ASSERT_NE(other, nullptr);
  store_.reset();
  db_ = OpenOrDie(/*busy_timeout_ms=*/50);
  ASSERT_NE(db_, nullptr);
  store_ = SqlReplayStore::Create(db_.get()).value();

  ASSERT_TRUE(other->Begin().ok());
  Status s = store_->CheckAndRecord("agency-a", "id-1", 1, kKeep);
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << s.ToString();
  ASSERT_TRUE(other->Rollback().ok());

  // Nothing was recorded by the failed attempt, so the message can be accepted once.
  EXPECT_TRUE(store_->CheckAndRecord("agency-a", "id-1", 1, kKeep).ok());
  EXPECT_EQ(store_->CheckAndRecord("agency-a", "id-1", 1, kKeep).code(),
            StatusCode::kAlreadyExists);
}

class SequenceCounterTest : public StorageTest {};

TEST_F(SequenceCounterTest, StartsAtOneAndIsStrictlyIncreasing) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto counter = SequenceCounter::Create(db.get(), "hub").value();
  uint64_t previous = 0;
  for (uint64_t i = 0; i < 3 * SequenceCounter::kBlock + 5; ++i) {
    auto n = counter->Next();
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    if (i == 0) {
      EXPECT_EQ(*n, 1u);
    }
    ASSERT_GT(*n, previous);
    previous = *n;
  }
}

TEST_F(SequenceCounterTest, NeverReusesNumbersAfterReopen) {
  uint64_t last = 0;
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    auto counter = SequenceCounter::Create(db.get(), "hub").value();
    for (int i = 0; i < 3; ++i) last = counter->Next().value();
    EXPECT_EQ(last, 3u);
  }  // "crash": the rest of the block is never used
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    auto counter = SequenceCounter::Create(db.get(), "hub").value();
    uint64_t first = counter->Next().value();
    EXPECT_GT(first, last);
    EXPECT_EQ(first, SequenceCounter::kBlock + 1);  // above the whole previous block
    // Run across a block boundary, then restart again.
    for (uint64_t i = 0; i < SequenceCounter::kBlock; ++i) {
      uint64_t n = counter->Next().value();
      ASSERT_GT(n, first);
      last = n;
    }
  }
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto counter = SequenceCounter::Create(db.get(), "hub").value();
  uint64_t next = counter->Next().value();
  EXPECT_GT(next, last);
  EXPECT_EQ(next, 3 * SequenceCounter::kBlock + 1);
}

TEST_F(SequenceCounterTest, StreamsAreIndependent) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto a = SequenceCounter::Create(db.get(), "agency-a").value();
  auto b = SequenceCounter::Create(db.get(), "agency-b").value();
  EXPECT_EQ(a->Next().value(), 1u);
  EXPECT_EQ(a->Next().value(), 2u);
  EXPECT_EQ(b->Next().value(), 1u);
}

TEST_F(SequenceCounterTest, HandsOutNothingWhenReservationFails) {
  auto other = OpenOrDie();
  ASSERT_NE(other, nullptr);
  auto db = OpenOrDie(/*busy_timeout_ms=*/50);
  ASSERT_NE(db, nullptr);
  auto counter = SequenceCounter::Create(db.get(), "hub").value();
  ASSERT_TRUE(other->Begin().ok());
  auto n = counter->Next();
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), StatusCode::kUnavailable) << n.status().ToString();
  ASSERT_TRUE(other->Rollback().ok());
  EXPECT_EQ(counter->Next().value(), 1u);
}

}  // namespace
}  // namespace mash::storage
