#include "mash/broker/outbox.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace mash::broker {
namespace {

class OutboxTest : public ::testing::Test {
 protected:
  std::function<void()> Record(const std::string& agency, uint64_t seq) {
    return [this, agency, seq] { sent_.push_back(agency + ":" + std::to_string(seq)); };
  }
  Outbox outbox_;
  std::vector<std::string> sent_;
};

TEST_F(OutboxTest, AFrameReadyWhenNothingIsBeforeItGoesAtOnce) {
  auto t = outbox_.Register("police", 1);
  t.Send(Record("police", 1));
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:1"}));
  EXPECT_EQ(outbox_.Outstanding("police"), 0u);
}

TEST_F(OutboxTest, ReleasedOutOfOrderTheyGoInSequence) {
  auto t1 = outbox_.Register("police", 1);
  auto t2 = outbox_.Register("police", 2);
  auto t3 = outbox_.Register("police", 3);
  t3.Send(Record("police", 3));
  t2.Send(Record("police", 2));
  EXPECT_TRUE(sent_.empty());  // 1 (a query awaiting its audit commit) holds them back
  t1.Send(Record("police", 1));
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:1", "police:2", "police:3"}));
  EXPECT_EQ(outbox_.Outstanding("police"), 0u);
}

TEST_F(OutboxTest, AnAbandonedSequenceNoLongerHoldsTheOthersBack) {
  auto t1 = outbox_.Register("police", 1);
  auto t2 = outbox_.Register("police", 2);
  auto t3 = outbox_.Register("police", 3);
  t3.Send(Record("police", 3));
  t1.Abandon();
  EXPECT_TRUE(sent_.empty());
  t2.Abandon();
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:3"}));
  t1.Send(Record("police", 1));  // given up: nothing goes
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:3"}));
}

TEST_F(OutboxTest, TheLastCopyOfATicketDroppedUnsentAbandonsIt) {
  auto t2 = outbox_.Register("police", 2);
  {
    auto t1 = outbox_.Register("police", 1);  // out of order on purpose: map order is by sequence
    auto copy = t1;
    t2.Send(Record("police", 2));
    EXPECT_TRUE(sent_.empty());
  }
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:2"}));
  EXPECT_EQ(outbox_.Outstanding("police"), 0u);
}

TEST_F(OutboxTest, AgenciesDoNotWaitForEachOther) {
  auto p1 = outbox_.Register("police", 1);
  auto h2 = outbox_.Register("health", 2);
  auto p3 = outbox_.Register("police", 3);
  p3.Send(Record("police", 3));
  h2.Send(Record("health", 2));
  EXPECT_EQ(sent_, (std::vector<std::string>{"health:2"}));
  p1.Send(Record("police", 1));
  EXPECT_EQ(sent_, (std::vector<std::string>{"health:2", "police:1", "police:3"}));
}

TEST_F(OutboxTest, ASendThatSealsAgainOrGivesUpKeepsTheOrder) {
  // A send whose connection closed registers a new sequence for the resent query, and gives up
  // another: the flush in progress carries on in order.
  auto t1 = outbox_.Register("police", 1);
  auto t2 = outbox_.Register("police", 2);
  auto t3 = outbox_.Register("police", 3);
  Outbox::Ticket t4;
  t2.Send(Record("police", 2));
  t1.Send([&] {
    sent_.push_back("police:1");
    t4 = outbox_.Register("police", 4);
    t4.Send(Record("police", 4));  // waits behind 3
    t3.Abandon();
  });
  EXPECT_EQ(sent_, (std::vector<std::string>{"police:1", "police:2", "police:4"}));
  EXPECT_EQ(outbox_.Outstanding("police"), 0u);
}

TEST_F(OutboxTest, TicketsOutlivingTheOutboxDoNothing) {
  Outbox::Ticket t;
  {
    Outbox outbox;
    t = outbox.Register("police", 1);
  }
  t.Send(Record("police", 1));
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace mash::broker
