#include "mash/schemas/messages.h"

#include <gtest/gtest.h>

namespace mash::schemas {
namespace {

const std::string kFp = "sha256:" + std::string(64, 'a');

Hello SampleHello() {
  Hello h;
  h.agency = "police";
  h.sign_key = kFp;
  h.enc_key = kFp;
  h.software = "mash-agent/0.1.0";
  return h;
}

TEST(MessagesTest, HelloRoundTripsThroughParseFrame) {
  Hello h = SampleHello();
  h.checkpoint = Checkpoint{42, std::string(64, 'b')};
  auto frame = ParseFrame(h.ToJson().dump());
  ASSERT_TRUE(frame.ok()) << frame.status().ToString();
  EXPECT_EQ(frame->type, MessageType::kHello);
  const Hello back = Hello::FromJson(frame->doc);
  EXPECT_EQ(back.agency, "police");
  ASSERT_TRUE(back.checkpoint.has_value());
  EXPECT_EQ(back.checkpoint->size, 42);
}

TEST(MessagesTest, WelcomePingAndErrorRoundTrip) {
  Welcome w;
  w.hub = "hub";
  w.sign_key = kFp;
  w.enc_key = kFp;
  auto f1 = ParseFrame(w.ToJson().dump());
  ASSERT_TRUE(f1.ok()) << f1.status().ToString();
  EXPECT_EQ(Welcome::FromJson(f1->doc).hub, "hub");

  auto f2 = ParseFrame(Ping{"0123456789abcdef", true}.ToJson().dump());
  ASSERT_TRUE(f2.ok()) << f2.status().ToString();
  EXPECT_TRUE(Ping::FromJson(f2->doc).reply);

  ErrorMessage e;
  e.code = "bad_request";
  auto f3 = ParseFrame(e.ToJson().dump());
  ASSERT_TRUE(f3.ok()) << f3.status().ToString();
  EXPECT_EQ(ErrorMessage::FromJson(f3->doc).message, "cannot process request");
}

TEST(MessagesTest, RejectsUnknownTypeWrongVersionAndNonObjects) {
  EXPECT_FALSE(ParseFrame(R"({"type":"gossip","v":1})").ok());
  nlohmann::json h = SampleHello().ToJson();
  h["v"] = 2;
  EXPECT_FALSE(ParseFrame(h.dump()).ok());
  EXPECT_FALSE(ParseFrame("[1,2,3]").ok());
  EXPECT_FALSE(ParseFrame("\"hello\"").ok());
  EXPECT_FALSE(ParseFrame(R"({"v":1})").ok());
  EXPECT_FALSE(ParseFrame(R"({"type":7,"v":1})").ok());
}

TEST(MessagesTest, RejectsAgencyIdsOutsideThePattern) {
  for (const char* bad : {"Police", "p", "police/../health", "", "1police"}) {
    Hello h = SampleHello();
    h.agency = bad;
    EXPECT_FALSE(ParseFrame(h.ToJson().dump()).ok()) << bad;
  }
}

TEST(MessagesTest, RejectsFramesOverTheLimitAndDeepNesting) {
  std::string big = R"({"type":"ping","v":1,"nonce":")" + std::string(kMaxFrameBytes, 'a') +
                    R"(","reply":false})";
  EXPECT_EQ(ParseFrame(big).status().code(), StatusCode::kResourceExhausted);
  std::string deep =
      R"({"type":"hello","v":1,"x":)" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_EQ(ParseFrame(deep).status().code(), StatusCode::kInvalidArgument);
}

TEST(MessagesTest, QueryBodyRoundTripKeepsSubjectAndHousehold) {
  QueryBody q;
  q.query_id = std::string(32, 'c');
  q.level = 2;
  q.subject.given_names = "Amelia";
  q.subject.family_name = "Jones";
  q.subject.dob = "2015-03-09";
  q.subject.sex = "female";
  q.subject.identifiers["nhs_number"] = "9434765919";
  Person mum;
  mum.given_names = "Sarah";
  q.household.push_back(mum);
  q.categories = {"incidents"};
  auto back = QueryBody::Parse(q.ToJson().dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->subject.identifiers.at("nhs_number"), "9434765919");
  EXPECT_EQ(back->household.size(), 1u);
  EXPECT_EQ(back->level, 2);
}

TEST(MessagesTest, QueryBodyRejectsBadLevelAndUnknownIdentifier) {
  QueryBody q;
  q.query_id = std::string(32, 'c');
  q.level = 4;
  EXPECT_FALSE(QueryBody::Parse(q.ToJson().dump()).ok());
  q.level = 0;
  q.subject.identifiers["passport"] = "123";
  EXPECT_FALSE(QueryBody::Parse(q.ToJson().dump()).ok());
}

TEST(MessagesTest, AnswerBodyRoundTrip) {
  AnswerBody a;
  a.query_id = std::string(32, 'd');
  a.held = true;
  a.match = "confirmed";
  a.matched_on = {"nhs_number"};
  CategoryAnswer c;
  c.category = "incidents";
  c.outcome = "shared";
  c.summary = "2 incidents";
  c.records = nlohmann::json::array({{{"date", "2026-01-01"}, {"type", "domestic"}}});
  c.level = 2;
  c.rule = "safeguarding-core";
  c.redacted = {"third_party_names"};
  a.categories.push_back(c);
  a.policy_version = "none";
  a.source = "fixture";
  auto back = AnswerBody::Parse(a.ToJson().dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->categories.at(0).records.size(), 1u);
  EXPECT_EQ(back->categories.at(0).level, 2);
  EXPECT_EQ(back->categories.at(0).rule, "safeguarding-core");
  EXPECT_EQ(back->categories.at(0).redacted, std::vector<std::string>{"third_party_names"});
  nlohmann::json over = a.ToJson();
  over["categories"][0]["level"] = 4;
  EXPECT_FALSE(AnswerBody::Parse(over.dump()).ok());
  over = a.ToJson();
  over["categories"][0]["rule"] = std::string(65, 'r');
  EXPECT_FALSE(AnswerBody::Parse(over.dump()).ok());
  nlohmann::json bad = a.ToJson();
  bad["match"] = "probably";
  EXPECT_FALSE(AnswerBody::Parse(bad.dump()).ok());
}

TEST(MessagesTest, WelcomeCarriesTheAuditSealAndConsistencyProof) {
  const std::string hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  Welcome w;
  w.hub = "hub";
  w.sign_key = kFp;
  w.enc_key = kFp;
  w.audit = WelcomeAudit{"mash-audit-checkpoint/v1\n...", 3, {hash, hash}};
  auto f = ParseFrame(w.ToJson().dump());
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  const Welcome back = Welcome::FromJson(f->doc);
  ASSERT_TRUE(back.audit.has_value());
  EXPECT_EQ(back.audit->consistency_from, 3);
  EXPECT_EQ(back.audit->consistency_proof.size(), 2u);
  // Without a proof there is no "consistency" member; a proof element that is not a base64
  // SHA-256 is refused.
  w.audit->consistency_from = 0;
  EXPECT_FALSE(w.ToJson()["audit"].contains("consistency"));
  nlohmann::json bad = w.ToJson();
  bad["audit"]["consistency"] = {{"from", 1}, {"proof", {"not-a-hash"}}};
  EXPECT_FALSE(ParseFrame(bad.dump()).ok());
  bad["audit"] = {{"consistency", {{"from", 1}, {"proof", nlohmann::json::array()}}}};
  EXPECT_FALSE(ParseFrame(bad.dump()).ok());  // no checkpoint
}

TEST(MessagesTest, ReceiptFramesAndBodiesAreValidated) {
  const std::string hash = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
  ReceiptBody r;
  r.answer_id = std::string(32, 'a');
  r.answer_hash = std::string(64, 'b');
  r.event = "AAECAwQ=";
  r.receipt = {{"version", 1},
               {"seq", 7},
               {"leaf_hash", hash},
               {"inclusion", {hash}},
               {"checkpoint", "mash-audit-checkpoint/v1\n"},
               {"consistency", {{"from", 4}, {"proof", {hash}}}}};
  auto back = ReceiptBody::Parse(r.ToJson().dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->answer_id, r.answer_id);
  EXPECT_EQ(back->receipt["seq"], 7);
  nlohmann::json bad = r.ToJson();
  bad["answer_hash"] = "nothex";
  EXPECT_FALSE(ReceiptBody::Parse(bad.dump()).ok());
  bad = r.ToJson();
  bad["receipt"]["extra"] = 1;
  EXPECT_FALSE(ReceiptBody::Parse(bad.dump()).ok());
  bad = r.ToJson();
  bad["receipt"].erase("checkpoint");
  EXPECT_FALSE(ReceiptBody::Parse(bad.dump()).ok());

  auto frame = ParseFrame(R"({"type":"receipt","v":1,"envelope":{}})");
  EXPECT_FALSE(frame.ok());  // the envelope is validated like a query's
}

TEST(MessagesTest, ReviewPendingFramesAndBodiesAreValidated) {
  ReviewPendingBody r;
  r.query_id = std::string(32, 'c');
  r.policy_version = "sha256:" + std::string(64, 'd');
  r.categories = {{"intelligence", "never_without_custodian", "intelligence-urgent"},
                  {"domestic_abuse", "possible_match", ""}};
  auto back = ReviewPendingBody::Parse(r.ToJson().dump());
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->query_id, r.query_id);
  ASSERT_EQ(back->categories.size(), 2u);
  EXPECT_EQ(back->categories[0].why, "never_without_custodian");
  EXPECT_EQ(back->categories[0].rule, "intelligence-urgent");
  EXPECT_EQ(back->categories[1].rule, "");
  nlohmann::json bad = r.ToJson();
  bad["categories"] = nlohmann::json::array();  // nothing waits: not a review_pending
  EXPECT_FALSE(ReviewPendingBody::Parse(bad.dump()).ok());
  bad = r.ToJson();
  bad["categories"][0]["why"] = "because";
  EXPECT_FALSE(ReviewPendingBody::Parse(bad.dump()).ok());
  bad = r.ToJson();
  bad["categories"][0]["summary"] = "record content has no place here";
  EXPECT_FALSE(ReviewPendingBody::Parse(bad.dump()).ok());

  EXPECT_EQ(MessageTypeName(MessageType::kReviewPending), "review_pending");
  EXPECT_FALSE(ParseFrame(R"({"type":"review_pending","v":1,"envelope":{}})").ok());
  const std::string b64 = "AAAA";
  nlohmann::json frame = {{"type", "review_pending"},
                          {"v", 1},
                          {"envelope",
                           {{"header", b64},
                            {"key", b64},
                            {"nonce", std::string(32, 'A')},
                            {"body", b64},
                            {"sig", std::string(88, 'A')}}}};
  auto parsed = ParseFrame(frame.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->type, MessageType::kReviewPending);
}

ChaseBody SampleChase() {
  ChaseBody c;
  c.query_id = std::string(32, 'e');
  c.deadline = "2026-11-23T14:00:00.000Z";
  c.urgency = "amber";
  c.state = "awaiting_review";
  return c;
}

TEST(MessagesTest, ChaseBodyRoundTrips) {
  for (const char* urgency : {"red", "amber", "green"}) {
    for (const char* state : {"unanswered", "awaiting_review"}) {
      ChaseBody c = SampleChase();
      c.urgency = urgency;
      c.state = state;
      auto back = ChaseBody::Parse(c.ToJson().dump());
      ASSERT_TRUE(back.ok()) << back.status().ToString();
      EXPECT_EQ(back->query_id, c.query_id);
      EXPECT_EQ(back->deadline, c.deadline);
      EXPECT_EQ(back->urgency, urgency);
      EXPECT_EQ(back->state, state);
    }
  }
  // Whole seconds are RFC 3339 too.
  ChaseBody c = SampleChase();
  c.deadline = "2026-12-31T23:59:59Z";
  EXPECT_TRUE(ChaseBody::Parse(c.ToJson().dump()).ok());
}

TEST(MessagesTest, ChaseBodyRefusesEveryInvalidField) {
  const auto refused = [](const std::string& field, const nlohmann::json& value) {
    nlohmann::json j = SampleChase().ToJson();
    j[field] = value;
    return !ChaseBody::Parse(j.dump()).ok();
  };
  for (const nlohmann::json& v :
       {nlohmann::json(std::string(31, 'e')), nlohmann::json(std::string(33, 'e')),
        nlohmann::json(std::string(32, 'E')), nlohmann::json(std::string(31, 'e') + "g"),
        nlohmann::json(""), nlohmann::json(7), nlohmann::json(nullptr)}) {
    EXPECT_TRUE(refused("query_id", v)) << v.dump();
  }
  for (const nlohmann::json& v :
       {nlohmann::json("2026-11-23"), nlohmann::json("2026-11-23T14:00:00"),
        nlohmann::json("2026-11-23T14:00:00+01:00"), nlohmann::json("2026-13-23T14:00:00Z"),
        nlohmann::json("2026-11-32T14:00:00Z"), nlohmann::json("2026-11-23T24:00:00Z"),
        nlohmann::json("2026-11-23 14:00:00Z"), nlohmann::json("2026-11-23T14:00:00.Z"),
        nlohmann::json("x2026-11-23T14:00:00Z"), nlohmann::json(1795341600), nlohmann::json("")}) {
    EXPECT_TRUE(refused("deadline", v)) << v.dump();
  }
  for (const nlohmann::json& v :
       {nlohmann::json("routine"), nlohmann::json("RED"), nlohmann::json(""), nlohmann::json(1)}) {
    EXPECT_TRUE(refused("urgency", v)) << v.dump();
  }
  for (const nlohmann::json& v : {nlohmann::json("answered"), nlohmann::json("review"),
                                  nlohmann::json(""), nlohmann::json(true)}) {
    EXPECT_TRUE(refused("state", v)) << v.dump();
  }
  // Every field is required.
  for (const char* field : {"query_id", "deadline", "urgency", "state"}) {
    nlohmann::json j = SampleChase().ToJson();
    j.erase(field);
    EXPECT_FALSE(ChaseBody::Parse(j.dump()).ok()) << field;
  }
  // Nothing else: no room for personal data.
  nlohmann::json extra = SampleChase().ToJson();
  extra["subject"] = "Amelia Jones";
  EXPECT_FALSE(ChaseBody::Parse(extra.dump()).ok());
  EXPECT_FALSE(ChaseBody::Parse("[]").ok());
  EXPECT_FALSE(ChaseBody::Parse("{").ok());
}

TEST(MessagesTest, ChaseFramesAreValidated) {
  EXPECT_EQ(MessageTypeName(MessageType::kChase), "chase");
  EXPECT_FALSE(ParseFrame(R"({"type":"chase","v":1,"envelope":{}})").ok());
  const std::string b64 = "AAAA";
  nlohmann::json frame = {{"type", "chase"},
                          {"v", 1},
                          {"envelope",
                           {{"header", b64},
                            {"key", b64},
                            {"nonce", std::string(32, 'A')},
                            {"body", b64},
                            {"sig", std::string(88, 'A')}}}};
  auto parsed = ParseFrame(frame.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->type, MessageType::kChase);
  nlohmann::json bad = frame;
  bad["v"] = 2;
  EXPECT_FALSE(ParseFrame(bad.dump()).ok());
  bad = frame;
  bad["deadline"] = "2026-11-23T14:00:00Z";  // the body travels sealed, never beside it
  EXPECT_FALSE(ParseFrame(bad.dump()).ok());
}

}  // namespace
}  // namespace mash::schemas
