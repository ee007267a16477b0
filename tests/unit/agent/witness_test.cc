// The agent as a witness of the hub's audit log, against a real AuditLog signing as the hub:
// the hello shows the held checkpoint; a welcome moves it on only with a consistency proof; a
// fork or a rollback raises an alarm that survives restarts and stops all answers until
// audit-reset; receipts are checked against the answers this agent sent and stored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_util.h"
#include "mash/agent/disclosure_log.h"
#include "mash/audit/receipt.h"

namespace mash::agent::testing {
namespace {

using ::testing::HasSubstr;

class WitnessTest : public AgentTest {};

TEST_F(WitnessTest, HelloCarriesTheHeldCheckpointAcrossRestarts) {
  auto log = OpenLog("hub-audit");
  ASSERT_TRUE(log);
  AppendFillers(*log, 7);
  {
    auto r = MakeResponder();
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->MakeHello().checkpoint.has_value());
    ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
    const auto hello = r->MakeHello();
    ASSERT_TRUE(hello.checkpoint.has_value());
    EXPECT_EQ(hello.checkpoint->size, 7);
    EXPECT_EQ(hello.checkpoint->root, common::HexEncode(log->LatestSeal()->checkpoint.root));
    // The hello is still valid on the wire with it.
    EXPECT_TRUE(schemas::ParseFrame(hello.ToJson().dump()).ok());
  }
  auto restarted = MakeResponder();
  ASSERT_TRUE(restarted);
  const auto hello = restarted->MakeHello();
  ASSERT_TRUE(hello.checkpoint.has_value());
  EXPECT_EQ(hello.checkpoint->size, 7);
}

TEST_F(WitnessTest, ConsistentWelcomesAreAcceptedAndHeld) {
  auto log = OpenLog("hub-audit");
  ASSERT_TRUE(log);
  AppendFillers(*log, 5);
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
  EXPECT_EQ(r->witness().held_size(), 5u);
  // Same checkpoint again (a reconnect with nothing new): fine.
  ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
  AppendFillers(*log, 9, "b");
  // A newer checkpoint without a proof is not accepted, and this connection answers nothing.
  const Status unproven = r->OnWelcome(Welcome(log.get()));
  EXPECT_EQ(unproven.code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(r->alarmed());
  EXPECT_EQ(r->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
  // With the proof from the held size it is accepted, and queries are answered again.
  const Status proven = r->OnWelcome(Welcome(log.get(), 5));
  ASSERT_TRUE(proven.ok()) << proven.ToString();
  EXPECT_EQ(r->witness().held_size(), 14u);
  EXPECT_TRUE(r->Answer(Query(1)).ok());
  // A proof that claims to start elsewhere is refused without an alarm.
  AppendFillers(*log, 3, "c");
  auto w = Welcome(log.get(), 5);
  EXPECT_EQ(r->OnWelcome(w).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(r->alarmed());
}

TEST_F(WitnessTest, WelcomeWithoutCheckpointIsRefusedOnlyOnceOneIsHeld) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  // Nothing held: a hub that does not (yet) show its log is still answered.
  ASSERT_TRUE(r->OnWelcome(Welcome(nullptr)).ok());
  EXPECT_TRUE(r->Answer(Query(1)).ok());
  auto log = OpenLog("hub-audit");
  ASSERT_TRUE(log);
  AppendFillers(*log, 3);
  ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
  // Now it holds one: a welcome that hides the log is refused, and so are queries.
  EXPECT_EQ(r->OnWelcome(Welcome(nullptr)).code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(r->alarmed());
  EXPECT_EQ(r->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
}

TEST_F(WitnessTest, WelcomeSignedByAnotherKeyIsRefusedWithoutAlarm) {
  auto log = OpenLog("hub-audit");
  ASSERT_TRUE(log);
  AppendFillers(*log, 3);
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  // The right log, but the checkpoint signed by another key.
  audit::Checkpoint c = log->LatestSeal()->checkpoint;
  auto forged = audit::SignCheckpoint(c, crypto::SigningKey::Generate());
  ASSERT_TRUE(forged.ok());
  auto w = Welcome(nullptr);
  w.audit = schemas::WelcomeAudit{forged->text, 0, {}};
  EXPECT_EQ(r->OnWelcome(w).code(), StatusCode::kUnauthenticated);
  EXPECT_FALSE(r->alarmed());
  EXPECT_FALSE(r->MakeHello().checkpoint.has_value());
}

TEST_F(WitnessTest, ForkedWelcomeRaisesAnAlarmThatSurvivesRestartUntilReset) {
  auto log = OpenLog("hub-audit");
  auto fork = OpenLog("hub-audit-fork");
  ASSERT_TRUE(log && fork);
  AppendFillers(*log, 6, "a");
  AppendFillers(*fork, 6, "x");  // same size, other history
  {
    auto r = MakeResponder();
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
    const Status s = r->OnWelcome(Welcome(fork.get()));
    EXPECT_EQ(s.code(), StatusCode::kDataLoss);
    EXPECT_TRUE(r->alarmed());
    EXPECT_THAT(r->alarm_reason(), HasSubstr("two roots for size 6"));
    EXPECT_EQ(r->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
    // Even the honest log is not accepted any more.
    EXPECT_FALSE(r->OnWelcome(Welcome(log.get())).ok());
  }
  {
    auto restarted = MakeResponder();
    ASSERT_TRUE(restarted);
    EXPECT_TRUE(restarted->alarmed());
    EXPECT_THAT(restarted->alarm_reason(), HasSubstr("two roots"));
    EXPECT_EQ(restarted->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
    auto alarm = restarted->disclosure_log().ActiveAlarm();
    ASSERT_TRUE(alarm.ok() && alarm->has_value());
    EXPECT_EQ((*alarm)->presented_checkpoint, fork->LatestSeal()->text);
    EXPECT_EQ((*alarm)->held_checkpoint, log->LatestSeal()->text);
  }
  // The operator's reset (mash-agent audit-reset) clears it and forgets the held checkpoint.
  auto cleared = ResetAuditWitness(Config(), kStart + 3600);
  ASSERT_TRUE(cleared.ok()) << cleared.status().ToString();
  EXPECT_EQ(*cleared, 1);
  auto after = MakeResponder();
  ASSERT_TRUE(after);
  EXPECT_FALSE(after->alarmed());
  EXPECT_FALSE(after->MakeHello().checkpoint.has_value());
  EXPECT_TRUE(after->Answer(Query(1)).ok());
}

TEST_F(WitnessTest, RolledBackWelcomeRaisesTheAlarm) {
  auto log = OpenLog("hub-audit");
  auto old_copy = OpenLog("hub-audit-old");
  ASSERT_TRUE(log && old_copy);
  AppendFillers(*log, 8, "a");
  AppendFillers(*old_copy, 4, "a");  // the same first four events: a prefix, restored from backup
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  ASSERT_TRUE(r->OnWelcome(Welcome(log.get())).ok());
  EXPECT_EQ(r->OnWelcome(Welcome(old_copy.get())).code(), StatusCode::kDataLoss);
  EXPECT_TRUE(r->alarmed());
  EXPECT_THAT(r->alarm_reason(), HasSubstr("below held size"));
}

class ReceiptTest : public AgentTest {
 protected:
  void SetUp() override {
    AgentTest::SetUp();
    log_ = OpenLog("hub-audit");
    ASSERT_TRUE(log_);
    AppendFillers(*log_, 5);
    r_ = MakeResponder();
    ASSERT_TRUE(r_);
    ASSERT_TRUE(r_->OnWelcome(Welcome(log_.get())).ok());
    answer_ = Ask(*r_, 2);
    AppendFillers(*log_, 2, "b");
    event_ = LogAnswer(*log_, answer_);
    body_ = ReceiptFor(*log_, answer_, event_, r_->witness().held_size());
  }
  Status Deliver(const schemas::ReceiptBody& body) {
    return r_->OnReceipt(SealReceipt(body, answer_.header.check_ref));
  }
  // The receipt the broker would send now, with a proof from what the agent holds.
  schemas::ReceiptBody Fresh() {
    return ReceiptFor(*log_, answer_, event_, r_->witness().held_size());
  }
  void ExpectNoReceiptAndNoAlarm() {
    EXPECT_FALSE(r_->alarmed());
    auto stored = r_->disclosure_log().FindReceipt(answer_.header.id);
    ASSERT_TRUE(stored.ok());
    EXPECT_FALSE(stored->has_value());
  }

  std::unique_ptr<audit::AuditLog> log_;
  std::unique_ptr<Responder> r_;
  OpenedAnswer answer_;
  audit::AuditEvent event_;
  schemas::ReceiptBody body_;
};

TEST_F(ReceiptTest, ValidReceiptIsStoredWithTheNewCheckpoint) {
  ASSERT_TRUE(Deliver(body_).ok());
  EXPECT_FALSE(r_->alarmed());
  EXPECT_EQ(r_->witness().held_size(), 8u);
  auto stored = r_->disclosure_log().FindReceipt(answer_.header.id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->seq, event_.seq);
  EXPECT_EQ((*stored)->checkpoint, log_->LatestSeal()->text);
  EXPECT_EQ(nlohmann::json::parse((*stored)->receipt), body_.receipt);
  auto held = r_->disclosure_log().LoadCheckpoint();
  ASSERT_TRUE(held.ok() && held->has_value());
  EXPECT_EQ(**held, log_->LatestSeal()->text);
  // A second receipt for the same answer is refused; the first stays.
  EXPECT_EQ(Deliver(Fresh()).code(), StatusCode::kAlreadyExists);
  // After a restart the hello shows the checkpoint the receipt brought.
  r_.reset();
  auto restarted = MakeResponder();
  ASSERT_TRUE(restarted);
  EXPECT_EQ(restarted->MakeHello().checkpoint->size, 8);
}

TEST_F(ReceiptTest, ReceiptForAnotherAnswerHashIsRejectedWithoutAlarm) {
  auto body = body_;
  body.answer_hash = std::string(64, '0');
  EXPECT_EQ(Deliver(body).code(), StatusCode::kInvalidArgument);
  // Its checkpoint was valid and consistent: witnessed all the same, so that the next proof
  // the broker sends starts where the agent is.
  EXPECT_EQ(r_->witness().held_size(), 8u);
  auto unknown = Fresh();
  unknown.answer_id = std::string(32, 'f');
  EXPECT_EQ(Deliver(unknown).code(), StatusCode::kNotFound);
  ExpectNoReceiptAndNoAlarm();
  EXPECT_TRUE(Deliver(Fresh()).ok());  // the good one still goes through
}

TEST_F(ReceiptTest, EventThatDoesNotNameTheAnswerIsRejected) {
  // An answer_received event for another envelope, with a valid receipt of its own.
  audit::AuditEvent other = event_;
  other.envelope_hashes = {common::Bytes(32, 7)};
  OpenedAnswer fake = answer_;
  fake.hash_hex = common::HexEncode(other.envelope_hashes[0]);
  auto committed = LogAnswer(*log_, fake);
  auto body = ReceiptFor(*log_, fake, committed, r_->witness().held_size());
  body.answer_hash = answer_.hash_hex;  // claims to be about the real answer
  EXPECT_EQ(Deliver(body).code(), StatusCode::kInvalidArgument);
  ExpectNoReceiptAndNoAlarm();
}

TEST_F(ReceiptTest, TamperedLeafOrEventIsRejectedWithoutAlarm) {
  // The receipt's leaf hash changed: not included in the checkpoint.
  auto receipt = audit::Receipt::FromJson(body_.receipt);
  ASSERT_TRUE(receipt.ok());
  auto leaf = *receipt;
  leaf.leaf_hash[0] ^= 1;
  auto body = body_;
  body.receipt = leaf.ToJson();
  EXPECT_EQ(Deliver(body).code(), StatusCode::kUnauthenticated);
  // The event changed: its leaf is not the one the receipt proves.
  audit::AuditEvent changed = event_;
  changed.purpose = "early-help";
  body = Fresh();
  body.event = common::Base64Encode(*audit::EncodeEvent(changed));
  EXPECT_EQ(Deliver(body).code(), StatusCode::kInvalidArgument);
  // The inclusion proof changed.
  auto path = *audit::Receipt::FromJson(Fresh().receipt);
  ASSERT_FALSE(path.inclusion.empty());
  path.inclusion[0][5] ^= 0x40;
  body = Fresh();
  body.receipt = path.ToJson();
  EXPECT_EQ(Deliver(body).code(), StatusCode::kUnauthenticated);
  // Not an event at all.
  body = Fresh();
  body.event = common::Base64Encode(common::AsBytes("not an event"));
  EXPECT_EQ(Deliver(body).code(), StatusCode::kInvalidArgument);
  ExpectNoReceiptAndNoAlarm();
  EXPECT_TRUE(Deliver(Fresh()).ok());
}

TEST_F(ReceiptTest, BadSignaturesAreRejectedWithoutAlarm) {
  // The envelope's signature broken.
  auto sealed = SealReceipt(body_, answer_.header.check_ref);
  sealed.sig[7] ^= 0x01;
  EXPECT_EQ(r_->OnReceipt(sealed).code(), StatusCode::kUnauthenticated);
  auto stranger = crypto::SigningKey::Generate();
  // The checkpoint in the receipt signed by another key.
  auto receipt = audit::Receipt::FromJson(body_.receipt);
  ASSERT_TRUE(receipt.ok());
  auto parsed = audit::ParseCheckpoint(receipt->checkpoint);
  ASSERT_TRUE(parsed.ok());
  auto forged = *receipt;
  forged.checkpoint = audit::SignCheckpoint(parsed->checkpoint, stranger)->text;
  auto body = body_;
  body.receipt = forged.ToJson();
  EXPECT_EQ(Deliver(body).code(), StatusCode::kUnauthenticated);
  ExpectNoReceiptAndNoAlarm();
  EXPECT_EQ(r_->witness().held_size(), 5u);
  EXPECT_TRUE(Deliver(body_).ok());
}

TEST_F(ReceiptTest, AnUnprovenCheckpointStopsAnswersUntilAWelcomeProvesIt) {
  // A validly signed, newer checkpoint without a proof from the held size: not an alarm (it
  // may be an honest broker that lost track), but nothing is answered until the log is proven.
  const auto unproven = ReceiptFor(*log_, answer_, event_, /*held_size=*/0);
  ASSERT_FALSE(unproven.receipt.contains("consistency"));
  EXPECT_FALSE(Deliver(unproven).ok());
  EXPECT_FALSE(r_->alarmed());
  EXPECT_TRUE(r_->NeedsResync());
  EXPECT_EQ(r_->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
  // The next connection's welcome proves consistency from the held size: answers resume.
  ASSERT_TRUE(r_->OnWelcome(Welcome(log_.get(), r_->witness().held_size())).ok());
  EXPECT_FALSE(r_->NeedsResync());
  EXPECT_TRUE(r_->Answer(Query(1)).ok());
}

TEST_F(ReceiptTest, ReceiptFromAForkedLogRaisesTheAlarm) {
  // A second log with the same key and origin, whose history differs from the first five events
  // the agent saw, but which also records this answer.
  auto fork = OpenLog("hub-audit-fork");
  ASSERT_TRUE(fork);
  AppendFillers(*fork, 7, "x");
  auto event = LogAnswer(*fork, answer_);
  auto body = ReceiptFor(*fork, answer_, event, r_->witness().held_size());
  ASSERT_TRUE(body.receipt.contains("consistency"));
  EXPECT_EQ(Deliver(body).code(), StatusCode::kDataLoss);
  EXPECT_TRUE(r_->alarmed());
  EXPECT_EQ(r_->Answer(Query(1)).status().code(), StatusCode::kUnavailable);
  // The honest receipt is refused now too, and the alarm is in the database.
  EXPECT_EQ(Deliver(body_).code(), StatusCode::kFailedPrecondition);
  r_.reset();
  auto restarted = MakeResponder();
  ASSERT_TRUE(restarted);
  EXPECT_TRUE(restarted->alarmed());
}

TEST_F(ReceiptTest, QueryAndReceiptEnvelopesShareTheReplayStore) {
  const auto sealed = SealReceipt(body_, answer_.header.check_ref);
  ASSERT_TRUE(r_->OnReceipt(sealed).ok());
  EXPECT_EQ(r_->OnReceipt(sealed).code(), StatusCode::kUnauthenticated);
  // A receipt envelope handed in as a query is not answered.
  EXPECT_FALSE(r_->Answer(SealReceipt(Fresh(), answer_.header.check_ref)).ok());
}

}  // namespace
}  // namespace mash::agent::testing
