// The agency-side witness, over checkpoints of in-memory trees: it holds the newest verified
// checkpoint, needs a consistency proof to move on, and alarms for good on any inconsistency.
#include "mash/audit/witness.h"

#include <gtest/gtest.h>

#include "mash/common/clock.h"

namespace mash::audit {
namespace {

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    key_.emplace(crypto::SigningKey::Generate());
    for (int i = 0; i < 40; ++i) Add(tree_, "a" + std::to_string(i));
  }
  static void Add(MemoryTree& t, const std::string& s) { t.Append(HashLeaf(common::AsBytes(s))); }
  std::string Sign(const MemoryTree& t, uint64_t size, const std::string& origin = "log") {
    Checkpoint c;
    c.origin = origin;
    c.size = size;
    c.root = *TreeRoot(t, size);
    c.time_ms = static_cast<int64_t>(size);
    return SignCheckpoint(c, *key_)->text;
  }
  Witness MakeWitness() { return Witness(key_->Public(), "log"); }
  std::optional<crypto::SigningKey> key_;
  MemoryTree tree_;
};

TEST_F(WitnessTest, AcceptsAConsistentHistory) {
  Witness w = MakeWitness();
  ASSERT_TRUE(w.Observe(Sign(tree_, 5), {}).ok());
  for (uint64_t n : {5u, 9u, 16u, 33u, 40u}) {
    auto proof = ConsistencyProof(tree_, w.held_size(), n);
    ASSERT_TRUE(proof.ok());
    EXPECT_TRUE(w.Observe(Sign(tree_, n), *proof).ok()) << n;
    EXPECT_EQ(w.held_size(), n);
  }
  // Restoring the held text in a new witness (agent restart) keeps the history.
  Witness again = MakeWitness();
  ASSERT_TRUE(again.Restore(w.held()->text).ok());
  EXPECT_EQ(again.held_size(), 40u);
}

TEST_F(WitnessTest, RefusesWithoutAlarmWhatItCannotJudge) {
  Witness w = MakeWitness();
  ASSERT_TRUE(w.Observe(Sign(tree_, 10), {}).ok());
  EXPECT_EQ(w.Observe(Sign(tree_, 20), {}).code(), StatusCode::kInvalidArgument);  // no proof
  auto other = crypto::SigningKey::Generate();
  Checkpoint c;
  c.origin = "log";
  c.size = 30;
  c.root = *TreeRoot(tree_, 30);
  EXPECT_EQ(w.Observe(SignCheckpoint(c, other)->text, *ConsistencyProof(tree_, 10, 30)).code(),
            StatusCode::kUnauthenticated);
  EXPECT_FALSE(w.Observe(Sign(tree_, 30, "other-log"), *ConsistencyProof(tree_, 10, 30)).ok());
  EXPECT_FALSE(w.alarmed());
  EXPECT_EQ(w.held_size(), 10u);
}

TEST_F(WitnessTest, AlarmsOnAForkARollbackOrABadProof) {
  MemoryTree fork;
  for (int i = 0; i < 40; ++i)
    Add(fork, i < 12 ? "a" + std::to_string(i) : "b" + std::to_string(i));
  {
    Witness w = MakeWitness();
    ASSERT_TRUE(w.Observe(Sign(tree_, 20), {}).ok());
    // The fork's proof from 20 to 30 does not start at the root this witness holds.
    EXPECT_EQ(w.Observe(Sign(fork, 30), *ConsistencyProof(fork, 20, 30)).code(),
              StatusCode::kDataLoss);
    EXPECT_TRUE(w.alarmed());
    EXPECT_EQ(w.Observe(Sign(tree_, 30), *ConsistencyProof(tree_, 20, 30)).code(),
              StatusCode::kFailedPrecondition);  // stays alarmed
  }
  {
    Witness w = MakeWitness();
    ASSERT_TRUE(w.Observe(Sign(tree_, 20), {}).ok());
    EXPECT_EQ(w.Observe(Sign(tree_, 19), {}).code(), StatusCode::kDataLoss);  // rollback
  }
  {
    Witness w = MakeWitness();
    ASSERT_TRUE(w.Observe(Sign(tree_, 20), {}).ok());
    EXPECT_EQ(w.Observe(Sign(fork, 20), {}).code(), StatusCode::kDataLoss);  // split view
    EXPECT_NE(w.alarm_reason().find("two roots"), std::string::npos);
  }
  {
    Witness w = MakeWitness();
    ASSERT_TRUE(w.Observe(Sign(tree_, 20), {}).ok());
    auto proof = *ConsistencyProof(tree_, 20, 30);
    proof[0][3] ^= 0x10;
    EXPECT_EQ(w.Observe(Sign(tree_, 30), proof).code(), StatusCode::kDataLoss);
  }
}

}  // namespace
}  // namespace mash::audit
