// Chases from the hub (docs/protocol.md): a chase is verified and opened like a query; for a
// query whose review item still waits for the custodian the item is marked chased with the
// deadline; an answered or unknown query changes nothing; a chase that does not verify is
// refused and changes nothing. Older databases get the review queue's new columns.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_util.h"
#include "mash/agent/review_queue.h"

namespace mash::agent::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kDeadline = "2026-11-23T10:00:00.000Z";

class ChaseTest : public AgentTest {
 protected:
  crypto::SealedEnvelope Chase(const std::string& check_ref, const std::string& query_id,
                               const std::string& deadline = kDeadline,
                               const std::string& type = "chase",
                               const crypto::SigningKey* signer = nullptr) {
    schemas::ChaseBody body;
    body.query_id = query_id;
    body.deadline = deadline;
    body.urgency = "amber";
    body.state = "awaiting_review";
    crypto::EnvelopeHeader h = HubHeader(type, check_ref);
    h.urgency = "amber";
    if (signer != nullptr) h.sender_key = signer->Public().Fingerprint();
    const std::string text = body.ToJson().dump();
    auto sealed = crypto::Seal(h, common::AsBytes(text), signer != nullptr ? *signer : *hub_sign_,
                               police_enc_pub_, random_);
    EXPECT_TRUE(sealed.ok());
    return *sealed;
  }

  // An amber s47 query at level 2: intelligence waits for the custodian. Returns the answer.
  OpenedAnswer AskWithReview(Responder& r) {
    auto frame = r.Answer(Query(2));
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(r.TakeOutgoing().size(), 1u);
    return frame.ok() ? OpenAnswer(*frame) : OpenedAnswer{};
  }

  ReviewItem ItemOf(Responder& r, const std::string& query_id) {
    auto item = r.review_queue().FindByQuery(query_id);
    EXPECT_TRUE(item.ok() && item->has_value());
    return item.ok() && *item ? **item : ReviewItem{};
  }
};

TEST_F(ChaseTest, APendingReviewItemIsMarkedChasedWithTheDeadline) {
  LogCapture logs;
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const OpenedAnswer answer = AskWithReview(*r);
  EXPECT_EQ(ItemOf(*r, answer.body.query_id).chased_at, 0);
  EXPECT_EQ(ReviewStatusText(ItemOf(*r, answer.body.query_id)), "pending");

  clock_->Advance(std::chrono::seconds(30));
  auto outcome = r->OnChase(Chase(answer.header.check_ref, answer.body.query_id));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, Responder::ChaseOutcome::kChased);
  ReviewItem item = ItemOf(*r, answer.body.query_id);
  EXPECT_EQ(item.chased_at, kStart + 30);
  EXPECT_EQ(item.chase_deadline, kDeadline);
  EXPECT_EQ(item.status, "pending");
  EXPECT_EQ(ReviewStatusText(item), std::string("pending, CHASED, due ") + kDeadline);
  // Only pending items are listed, and this one still is.
  auto listed = r->review_queue().List(false);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().chase_deadline, kDeadline);

  const std::string text = logs.Text();
  EXPECT_THAT(text, HasSubstr("review.chased"));
  EXPECT_THAT(text, HasSubstr(answer.header.check_ref));
  EXPECT_THAT(text, HasSubstr(kDeadline));
  // The subject's identifier and the record content stay out of the log.
  EXPECT_THAT(text, Not(HasSubstr("9434765919")));
  EXPECT_THAT(text, Not(HasSubstr("Jones")));

  // A later chase replaces the deadline and the time.
  clock_->Advance(std::chrono::seconds(30));
  outcome =
      r->OnChase(Chase(answer.header.check_ref, answer.body.query_id, "2026-11-23T09:00:00.000Z"));
  ASSERT_TRUE(outcome.ok());
  item = ItemOf(*r, answer.body.query_id);
  EXPECT_EQ(item.chased_at, kStart + 60);
  EXPECT_EQ(item.chase_deadline, "2026-11-23T09:00:00.000Z");

  // The mark survives a restart (it is in the database).
  r.reset();
  auto again = MakeResponder();
  ASSERT_TRUE(again);
  EXPECT_EQ(ItemOf(*again, answer.body.query_id).chased_at, kStart + 60);
}

TEST_F(ChaseTest, AnsweredQueriesAreLeftAlone) {
  LogCapture logs;
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  // No record of this subject: answered at once, nothing waits.
  auto frame = r->Answer(Query(2, {}, {}, "4010232137"));
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const OpenedAnswer answer = OpenAnswer(*frame);
  auto outcome = r->OnChase(Chase(answer.header.check_ref, answer.body.query_id));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, Responder::ChaseOutcome::kAlreadyAnswered);
  EXPECT_THAT(logs.Text(), HasSubstr("chase.already_answered"));

  // A review item the custodian has decided: the follow-up is on its way.
  const OpenedAnswer reviewed = AskWithReview(*r);
  const int64_t id = ItemOf(*r, reviewed.body.query_id).id;
  ReviewDecision d;
  d.by = "c.custodian";
  ASSERT_TRUE(r->review_queue().Decide(id, d, clock_->NowUnix()).ok());
  outcome = r->OnChase(Chase(reviewed.header.check_ref, reviewed.body.query_id));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, Responder::ChaseOutcome::kAlreadyAnswered);
  const ReviewItem item = ItemOf(*r, reviewed.body.query_id);
  EXPECT_EQ(item.chased_at, 0);
  EXPECT_EQ(ReviewStatusText(item), "decided");
  EXPECT_FALSE(r->review_queue().MarkChased(id, clock_->NowUnix(), kDeadline).ok());
}

TEST_F(ChaseTest, AnUnknownQueryIsLoggedAndNotAnswered) {
  LogCapture logs;
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  auto outcome = r->OnChase(Chase(random_.Hex(16), random_.Hex(16)));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, Responder::ChaseOutcome::kUnknownQuery);
  EXPECT_THAT(logs.Text(), HasSubstr("chase.unknown_query"));
  EXPECT_TRUE(r->TakeOutgoing().empty());
  auto listed = r->review_queue().List(true);
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

TEST_F(ChaseTest, BadChasesAreRefusedAndChangeNothing) {
  LogCapture logs;
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const OpenedAnswer answer = AskWithReview(*r);
  const std::string& check = answer.header.check_ref;
  const std::string& query = answer.body.query_id;
  const auto unchanged = [&] {
    const ReviewItem item = ItemOf(*r, query);
    return item.chased_at == 0 && item.chase_deadline.empty();
  };

  // Signed by a key that is not the broker's.
  const crypto::SigningKey other = crypto::SigningKey::Generate();
  auto outcome = r->OnChase(Chase(check, query, kDeadline, "chase", &other));
  EXPECT_FALSE(outcome.ok());
  EXPECT_TRUE(unchanged());

  // A flipped bit in the sealed body.
  crypto::SealedEnvelope tampered = Chase(check, query);
  tampered.body[tampered.body.size() / 2] ^= 0x01;
  EXPECT_FALSE(r->OnChase(tampered).ok());
  EXPECT_TRUE(unchanged());

  // Another message type under the broker's signature.
  EXPECT_FALSE(r->OnChase(Chase(check, query, kDeadline, "receipt")).ok());
  EXPECT_TRUE(unchanged());

  // The query of this check named under another check.
  EXPECT_FALSE(r->OnChase(Chase(random_.Hex(16), query)).ok());
  EXPECT_TRUE(unchanged());

  // Expired: sealed now, opened after its lifetime and the clock skew.
  const crypto::SealedEnvelope late = Chase(check, query);
  clock_->Advance(std::chrono::seconds(120 + 61));
  EXPECT_FALSE(r->OnChase(late).ok());
  EXPECT_TRUE(unchanged());

  // Replayed: the first copy is accepted, the second refused and the mark stays the first's.
  const crypto::SealedEnvelope once = Chase(check, query);
  ASSERT_TRUE(r->OnChase(once).ok());
  const int64_t first = ItemOf(*r, query).chased_at;
  clock_->Advance(std::chrono::seconds(5));
  EXPECT_FALSE(r->OnChase(once).ok());
  EXPECT_EQ(ItemOf(*r, query).chased_at, first);

  const std::string text = logs.Text();
  EXPECT_THAT(text, HasSubstr("chase.rejected"));
  EXPECT_THAT(text, Not(HasSubstr("9434765919")));
}

// The review_items table as the first release made it, without chased_at and chase_deadline.
constexpr std::string_view kOldReviewItems =
    "CREATE TABLE review_items ("
    "  id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL, status TEXT NOT NULL,"
    "  check_ref TEXT NOT NULL, query_id TEXT NOT NULL UNIQUE, purpose TEXT NOT NULL,"
    "  lawful_basis TEXT NOT NULL, consent TEXT NOT NULL, urgency TEXT NOT NULL,"
    "  level INTEGER NOT NULL, match TEXT NOT NULL, matched_on TEXT NOT NULL,"
    "  policy_version TEXT NOT NULL, source TEXT NOT NULL, subject TEXT NOT NULL,"
    "  answer_ids TEXT NOT NULL DEFAULT '', sent_at INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO review_items (created_at, status, check_ref, query_id, purpose, lawful_basis,"
    "  consent, urgency, level, match, matched_on, policy_version, source, subject)"
    "  VALUES (1795341600, 'pending', 'c-1', '00112233445566778899aabbccddeeff', 'p', 'lb',"
    "  'given', 'amber', 2, 'confirmed', '[]', 'v1', 'fixture', '{}');";

TEST_F(ChaseTest, AnOlderDatabaseGetsTheChaseColumns) {
  const AgentConfig c = Config();
  {
    auto db = storage::Database::Open({c.database, c.database_key});
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec(kOldReviewItems).ok());
  }
  auto db = storage::Database::Open({c.database, c.database_key});
  ASSERT_TRUE(db.ok());
  auto queue = ReviewQueue::Create(db->get());
  ASSERT_TRUE(queue.ok()) << queue.status().ToString();
  auto items = (*queue)->List(true);
  ASSERT_TRUE(items.ok()) << items.status().ToString();
  ASSERT_EQ(items->size(), 1u);
  EXPECT_EQ(items->front().query_id, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(items->front().chased_at, 0);
  EXPECT_EQ(items->front().chase_deadline, "");
  ASSERT_TRUE((*queue)->MarkChased(items->front().id, kStart + 7, kDeadline).ok());
  // Opening again (the agent and `mash-agent review` both do) adds nothing twice.
  auto reopened = ReviewQueue::Create(db->get());
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  auto item = (*reopened)->Get(items->front().id);
  ASSERT_TRUE(item.ok());
  EXPECT_EQ(item->chased_at, kStart + 7);
  EXPECT_EQ(item->chase_deadline, kDeadline);
  // A responder on the migrated database finds it and marks it.
  reopened->reset();
  queue->reset();
  db->reset();
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  auto outcome = r->OnChase(Chase("c-1", "00112233445566778899aabbccddeeff"));
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_EQ(*outcome, Responder::ChaseOutcome::kChased);
}

}  // namespace
}  // namespace mash::agent::testing
