// The custodian review queue: categories the policy routes to a person are kept as a review item
// in the agent's database and announced with review_pending; the custodian decides each once
// (release, redact, decline with a reason); the follow-up answer never releases more than the
// policy granted; a possible match is queued, never released.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_util.h"
#include "mash/agent/review_queue.h"

namespace mash::agent::testing {
namespace {

using ::testing::HasSubstr;

class ReviewTest : public AgentTest {
 protected:
  // Opens a review_pending frame as the broker would.
  schemas::ReviewPendingBody OpenPending(const std::string& frame_text,
                                         crypto::EnvelopeHeader* header = nullptr) {
    auto frame = schemas::ParseFrame(frame_text);
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    EXPECT_EQ(frame->type, schemas::MessageType::kReviewPending);
    auto env = crypto::SealedEnvelope::FromJson(frame->doc.at("envelope"));
    EXPECT_TRUE(env.ok());
    AcceptAll replay;
    crypto::OpenExpectations expect{"police", &police_sign_pub_, "hub", &*hub_enc_,
                                    clock_->NowUnix()};
    auto opened = crypto::Open(*env, expect, replay);
    EXPECT_TRUE(opened.ok()) << opened.status().ToString();
    EXPECT_EQ(opened->header.type, "review_pending");
    if (header != nullptr) *header = opened->header;
    auto body = schemas::ReviewPendingBody::Parse(common::AsString(opened->plaintext.span()));
    EXPECT_TRUE(body.ok()) << body.status().ToString();
    return body.ok() ? *body : schemas::ReviewPendingBody{};
  }

  // Asks an s47 query at `level` (amber: only intelligence waits for the custodian; red: the
  // core-records-red categories as well) and returns the answer and the one review_pending.
  std::pair<OpenedAnswer, std::string> AskWithReview(Responder& r, int level,
                                                     const std::string& urgency = "amber") {
    Why why;
    why.urgency = urgency;
    auto frame = r.Answer(Query(level, why));
    EXPECT_TRUE(frame.ok()) << frame.status().ToString();
    auto before = r.TakeOutgoing();
    EXPECT_EQ(before.size(), 1u);
    return {frame.ok() ? OpenAnswer(*frame) : OpenedAnswer{}, before.empty() ? "" : before[0]};
  }

  ReviewDecision By(ReviewDecision::Kind kind, std::string category = "") {
    ReviewDecision d;
    d.kind = kind;
    d.category = std::move(category);
    d.by = "c.custodian";
    return d;
  }
};

TEST_F(ReviewTest, RoutedCategoriesAreQueuedAnnouncedAndSurviveAReopen) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const auto [answer, pending_frame] = AskWithReview(*r, 2);
  const auto* intel = Find(answer.body, "intelligence");
  ASSERT_NE(intel, nullptr);
  EXPECT_EQ(intel->outcome, "review");
  EXPECT_TRUE(intel->summary.empty());

  crypto::EnvelopeHeader header;
  const auto pending = OpenPending(pending_frame, &header);
  EXPECT_EQ(pending.query_id, answer.body.query_id);
  EXPECT_EQ(header.check_ref, answer.header.check_ref);
  // Sealed before the answer: its sequence number is the smaller.
  EXPECT_LT(header.sequence, answer.header.sequence);
  ASSERT_EQ(pending.categories.size(), 1u);
  EXPECT_EQ(pending.categories[0].category, "intelligence");
  EXPECT_EQ(pending.categories[0].why, "never_without_custodian");
  EXPECT_EQ(pending.categories[0].rule, "intelligence-urgent");

  r.reset();  // the agent stops; the custodian's process opens the database
  storage::DatabaseOptions o{Config().database, Config().database_key, false};
  auto db = storage::Database::Open(o);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto queue = ReviewQueue::Create(db->get());
  ASSERT_TRUE(queue.ok());
  auto items = (*queue)->List(false);
  ASSERT_TRUE(items.ok());
  ASSERT_EQ(items->size(), 1u);
  const ReviewItem& item = (*items)[0];
  EXPECT_EQ(item.status, "pending");
  EXPECT_EQ(item.check_ref, answer.header.check_ref);
  EXPECT_EQ(item.query_id, answer.body.query_id);
  EXPECT_EQ(item.purpose, "child-protection-s47");
  EXPECT_EQ(item.urgency, "amber");
  EXPECT_EQ(item.match, "confirmed");
  EXPECT_EQ(item.subject["identifiers"]["nhs_number"], "9434765919");
  ASSERT_EQ(item.categories.size(), 1u);
  const ReviewCategory& c = item.categories[0];
  EXPECT_EQ(c.category, "intelligence");
  EXPECT_EQ(c.level, 1);  // intelligence-urgent: involvement only
  EXPECT_TRUE(c.content.contains("summary"));
  EXPECT_FALSE(c.content.contains("latest"));
  EXPECT_FALSE(c.content.contains("records"));
  EXPECT_TRUE(c.decision.empty());
}

TEST_F(ReviewTest, ReleaseIsAnsweredOnceAndRecorded) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const auto [answer, pending_frame] = AskWithReview(*r, 2);
  EXPECT_TRUE(r->PollReviews().empty());  // nothing decided yet
  auto items = r->review_queue().List(false);
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  const int64_t id = (*items)[0].id;

  auto decided = r->review_queue().Decide(id, By(ReviewDecision::Kind::kRelease), kStart + 60);
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();
  EXPECT_EQ(decided->status, "decided");
  EXPECT_EQ(decided->categories[0].decision, "released");
  EXPECT_EQ(decided->categories[0].decided_by, "c.custodian");

  // Decided once: neither a second release nor a decline changes it.
  EXPECT_EQ(
      r->review_queue().Decide(id, By(ReviewDecision::Kind::kRelease), kStart).status().code(),
      StatusCode::kFailedPrecondition);
  auto decline = By(ReviewDecision::Kind::kDecline, "intelligence");
  decline.reason = "second thoughts";
  EXPECT_EQ(r->review_queue().Decide(id, decline, kStart).status().code(),
            StatusCode::kFailedPrecondition);

  auto frames = r->PollReviews();
  ASSERT_EQ(frames.size(), 1u);
  const auto follow_up = OpenAnswer(frames[0]);
  EXPECT_EQ(follow_up.header.check_ref, answer.header.check_ref);
  EXPECT_EQ(follow_up.body.query_id, answer.body.query_id);
  ASSERT_EQ(follow_up.body.categories.size(), 1u);
  const auto& intel = follow_up.body.categories[0];
  EXPECT_EQ(intel.category, "intelligence");
  EXPECT_EQ(intel.outcome, "shared");
  EXPECT_EQ(intel.level, 1);
  EXPECT_FALSE(intel.summary.empty());
  EXPECT_TRUE(intel.latest.empty());
  EXPECT_THAT(intel.reason, HasSubstr("custodian"));
  // Sent once; recorded in the disclosure log like any answer.
  EXPECT_TRUE(r->PollReviews().empty());
  auto logged = r->disclosure_log().FindAnswer(follow_up.header.id);
  ASSERT_TRUE(logged.ok());
  EXPECT_EQ(logged->answer_hash, follow_up.hash_hex);
  EXPECT_EQ(logged->categories[0]["outcome"], "shared");
  EXPECT_FALSE(logged->categories[0].contains("summary"));
  auto log = r->review_queue().Decisions(10);
  ASSERT_TRUE(log.ok());
  ASSERT_EQ(log->size(), 1u);
  EXPECT_EQ((*log)[0]["decision"], "released");
  EXPECT_EQ((*log)[0]["by"], "c.custodian");
  EXPECT_EQ((*log)[0]["time"], kStart + 60);

  // A new connection sends again what has no receipt yet, in a new envelope.
  r->OnConnected();
  auto again = r->PollReviews();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_NE(OpenAnswer(again[0]).header.id, follow_up.header.id);
}

TEST_F(ReviewTest, DeclineNeedsAReasonAndAnswersWithheldWithIt) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  (void)AskWithReview(*r, 2);
  const int64_t id = (*r->review_queue().List(false))[0].id;
  auto decline = By(ReviewDecision::Kind::kDecline, "intelligence");
  EXPECT_EQ(r->review_queue().Decide(id, decline, kStart).status().code(),
            StatusCode::kInvalidArgument);
  decline.reason = "   ";
  EXPECT_EQ(r->review_queue().Decide(id, decline, kStart).status().code(),
            StatusCode::kInvalidArgument);
  decline.reason = "live operation: disclosure would prejudice it";
  auto no_name = decline;
  no_name.by = "";
  EXPECT_EQ(r->review_queue().Decide(id, no_name, kStart).status().code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(r->review_queue().Decide(id, decline, kStart).ok());

  auto frames = r->PollReviews();
  ASSERT_EQ(frames.size(), 1u);
  const auto follow_up = OpenAnswer(frames[0]);
  ASSERT_EQ(follow_up.body.categories.size(), 1u);
  const auto& intel = follow_up.body.categories[0];
  EXPECT_EQ(intel.outcome, "withheld");
  EXPECT_TRUE(intel.summary.empty());
  EXPECT_EQ(intel.reason,
            "declined by the agency's custodian: live operation: disclosure would prejudice it");
}

TEST_F(ReviewTest, UnknownItemOrCategoryIsNotFound) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  (void)AskWithReview(*r, 2);
  const int64_t id = (*r->review_queue().List(false))[0].id;
  EXPECT_EQ(
      r->review_queue().Decide(id + 7, By(ReviewDecision::Kind::kRelease), kStart).status().code(),
      StatusCode::kNotFound);
  EXPECT_EQ(r->review_queue()
                .Decide(id, By(ReviewDecision::Kind::kRelease, "arrests"), kStart)
                .status()
                .code(),
            StatusCode::kNotFound);
  auto redact = By(ReviewDecision::Kind::kRedact, "intelligence");
  EXPECT_EQ(r->review_queue().Decide(id, redact, kStart).status().code(),
            StatusCode::kInvalidArgument);  // no fields
}

TEST_F(ReviewTest, RedactRemovesMoreFieldsButNeverThePolicysOwn) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const auto [answer, pending_frame] = AskWithReview(*r, 3, "red");  // core-records-red
  const auto pending = OpenPending(pending_frame);
  auto items = r->review_queue().List(false);
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  const ReviewItem& item = (*items)[0];
  const ReviewCategory* da = nullptr;
  for (const auto& c : item.categories) {
    if (c.category == "domestic_abuse") da = &c;
  }
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->why, "custodian_review");
  EXPECT_EQ(da->level, 3);
  ASSERT_TRUE(da->content.contains("records"));
  for (const auto& rec : da->content["records"]) EXPECT_FALSE(rec.contains("third_party_names"));

  auto redact = By(ReviewDecision::Kind::kRedact, "domestic_abuse");
  redact.fields = {"risk", "latest"};
  ASSERT_TRUE(r->review_queue().Decide(item.id, redact, kStart).ok());
  // The rest still waits: nothing goes before every category is decided.
  EXPECT_TRUE(r->PollReviews().empty());
  ASSERT_TRUE(r->review_queue().Decide(item.id, By(ReviewDecision::Kind::kRelease), kStart).ok());
  auto frames = r->PollReviews();
  ASSERT_EQ(frames.size(), 1u);
  const auto follow_up = OpenAnswer(frames[0]);
  EXPECT_EQ(follow_up.body.categories.size(), pending.categories.size());
  const auto* out = Find(follow_up.body, "domestic_abuse");
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(out->outcome, "redacted");
  EXPECT_EQ(out->level, 3);
  EXPECT_TRUE(out->latest.empty());
  EXPECT_FALSE(out->summary.empty());
  ASSERT_FALSE(out->records.empty());
  for (const auto& rec : out->records) {
    EXPECT_FALSE(rec.contains("risk"));
    EXPECT_FALSE(rec.contains("third_party_names"));
    EXPECT_TRUE(rec.contains("date"));
  }
  EXPECT_THAT(out->redacted,
              ::testing::UnorderedElementsAre("third_party_names", "risk", "latest"));
}

TEST_F(ReviewTest, ReleaseCannotExceedTheGrantedLevel) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  (void)AskWithReview(*r, 2);
  const int64_t id = (*r->review_queue().List(false))[0].id;
  // Even content that reached the row by other means stays behind the granted level (1).
  storage::DatabaseOptions o{Config().database, Config().database_key, false};
  auto db = storage::Database::Open(o);
  ASSERT_TRUE(db.ok());
  auto u = (*db)->Prepare("UPDATE review_categories SET content = ? WHERE item_id = ?");
  ASSERT_TRUE(u.ok());
  u->Bind(1, R"({"summary":"s","latest":"2026-01-01","records":[{"a":"b"}]})").Bind(2, id);
  ASSERT_TRUE(u->Run().ok());
  ASSERT_TRUE(r->review_queue().Decide(id, By(ReviewDecision::Kind::kRelease), kStart).ok());
  auto frames = r->PollReviews();
  ASSERT_EQ(frames.size(), 1u);
  const auto follow_up = OpenAnswer(frames[0]);
  const auto& intel = follow_up.body.categories.at(0);
  EXPECT_EQ(intel.level, 1);
  EXPECT_EQ(intel.summary, "s");
  EXPECT_TRUE(intel.latest.empty());
  EXPECT_TRUE(intel.records.empty());
}

TEST_F(ReviewTest, PossibleMatchIsQueuedNotReleased) {
  // The record system is only fairly sure: a possible match.
  const auto program = dir_ / "possible.sh";
  WriteFile(program, R"(#!/bin/sh
echo '{"matches": [{"match": "possible", "matched_on": ["family_name", "dob"], "categories": {
  "domestic_abuse": {"summary": "one", "latest": "2026-01-02"},
  "missing_episodes": {"summary": "two", "latest": "2026-01-03"}}}]}'
)");
  std::filesystem::permissions(program, std::filesystem::perms::owner_all);
  AgentConfig c = Config();
  c.records_fixture.clear();
  c.records_command = {program.string()};
  auto r = MakeResponder(c);
  ASSERT_TRUE(r);
  auto frame = r->Answer(Query(2));  // amber: safeguarding-core would release both
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  const auto answer = OpenAnswer(*frame);
  EXPECT_EQ(answer.body.match, "possible");
  for (const auto& cat : answer.body.categories) {
    EXPECT_EQ(cat.outcome, "review") << cat.category;
    EXPECT_TRUE(cat.summary.empty()) << cat.category;
  }
  const auto before = r->TakeOutgoing();
  ASSERT_EQ(before.size(), 1u);
  const auto pending = OpenPending(before[0]);
  ASSERT_EQ(pending.categories.size(), 2u);
  for (const auto& p : pending.categories) EXPECT_EQ(p.why, "possible_match");
  auto items = r->review_queue().List(false);
  ASSERT_TRUE(items.ok() && items->size() == 1u);
  EXPECT_EQ((*items)[0].match, "possible");
  EXPECT_EQ((*items)[0].categories[0].content["summary"], "one");
  EXPECT_TRUE(r->PollReviews().empty());  // nothing leaves before the custodian decides
}

TEST_F(ReviewTest, TheSameQueryAskedAgainKeepsOneItem) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why why;
  why.urgency = "red";
  auto query = Query(2, why);
  // The broker sends a query again (lost connection) with the same query id, new envelope.
  auto first = r->Answer(query);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(r->TakeOutgoing().size(), 1u);
  const auto asked = OpenAnswer(*first);
  schemas::QueryBody q;
  q.query_id = asked.body.query_id;
  q.level = 2;
  q.subject.identifiers["nhs_number"] = "9434765919";
  crypto::EnvelopeHeader h = HubHeader("query", asked.header.check_ref);
  h.purpose = why.purpose;
  h.lawful_basis = why.lawful_basis;
  h.consent = why.consent;
  h.urgency = why.urgency;
  const std::string text = q.ToJson().dump();
  auto resent = crypto::Seal(h, common::AsBytes(text), *hub_sign_, police_enc_pub_, random_);
  ASSERT_TRUE(resent.ok());
  ASSERT_TRUE(r->Answer(*resent).ok());
  ASSERT_EQ(r->TakeOutgoing().size(), 1u);
  auto items = r->review_queue().List(true);
  ASSERT_TRUE(items.ok());
  EXPECT_EQ(items->size(), 1u);
}

}  // namespace
}  // namespace mash::agent::testing
