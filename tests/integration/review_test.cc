// Custodian review end to end, through a real broker and a real agent: a category the agency's
// policy routes to a person reaches the broker as review_pending and the check shows the part
// waiting for the agency's custodian; the custodian's decision (the function `mash-agent review`
// calls, on its own connection to the agent's database) makes the follow-up answer arrive, be
// recorded and merged; a review_pending for an unknown query or from the wrong agency is refused.
#include <gtest/gtest.h>

#include <thread>

#include "harness.h"
#include "mash/agent/ops.h"
#include "mash/agent/review_queue.h"
#include "mash/audit/query.h"
#include "mash/common/encoding.h"
#include "mash/crypto/keys.h"
#include "mash/schemas/messages.h"

namespace mash::testing {
namespace {

using namespace std::chrono_literals;

// Amber s47 at level 2: police intelligence is permitted (involvement only) but never leaves
// without its custodian; the other police categories are answered at once.
broker::RaiseRequest AmberRequest(std::vector<std::string> agencies) {
  return ConsentedCheck(std::move(agencies));
}

nlohmann::json Peek(TestHub& hub, const std::string& id) { return PeekCheck(hub, id); }

const nlohmann::json& Part(const nlohmann::json& check, const std::string& agency) {
  for (const auto& p : check["agencies"]) {
    if (p["agency"] == agency) return p;
  }
  static const nlohmann::json kNone;
  return kNone;
}

const nlohmann::json* Category(const nlohmann::json& part, const std::string& name) {
  if (!part.contains("answer") || !part["answer"].contains("categories")) return nullptr;
  for (const auto& c : part["answer"]["categories"]) {
    if (c["category"] == name) return &c;
  }
  return nullptr;
}

nlohmann::json WaitForPartState(TestHub& hub, const std::string& id, const std::string& agency,
                                const std::string& state, std::chrono::seconds limit) {
  const auto until = std::chrono::steady_clock::now() + limit;
  nlohmann::json shown = Peek(hub, id);
  while (Part(shown, agency)["state"] != state && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    shown = Peek(hub, id);
  }
  return shown;
}

class CustodianReviewTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>();
    config_ = hub_->AgentConfigFor("police", Fixture("police"));
  }

  // The custodian's process: its own connection to the running agent's database.
  std::unique_ptr<storage::Database> OpenAgentDb() {
    storage::DatabaseOptions o{config_.database, config_.database_key, false};
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(*db) : nullptr;
  }

  agent::ReviewItem OnlyItem() {
    auto db = OpenAgentDb();
    auto queue = agent::ReviewQueue::Create(db.get());
    EXPECT_TRUE(queue.ok());
    auto items = (*queue)->List(true);
    EXPECT_TRUE(items.ok());
    EXPECT_EQ(items->size(), 1u);
    return items->empty() ? agent::ReviewItem{} : items->front();
  }

  // Waits until the agent holds the receipt of the follow-up (the item is then receipted).
  agent::ReviewItem WaitReceipted(std::chrono::seconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    agent::ReviewItem item = OnlyItem();
    while (item.status != "receipted" && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(50ms);
      item = OnlyItem();
    }
    return item;
  }

  std::vector<audit::AuditEvent> EventsOfCheck(const std::string& check_id) {
    return AuditEventsOf(*hub_, check_id);
  }

  // Raises the amber check with police and waits until its part waits for the custodian.
  std::string RaiseAndWaitForReview() {
    hub_->StartAgent("police", Fixture("police"));
    EXPECT_TRUE(hub_->WaitOnline("police", 10s));
    auto id = hub_->Raise(AmberRequest({"police"}));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    // The announcement and the first answer each show once their audit events committed.
    const auto until = std::chrono::steady_clock::now() + 15s;
    nlohmann::json check = Peek(*hub_, *id);
    while ((Part(check, "police")["state"] != "awaiting_agency_review" ||
            !Part(check, "police").contains("answer")) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
      check = Peek(*hub_, *id);
    }
    const auto& police = Part(check, "police");
    EXPECT_EQ(police["state"], "awaiting_agency_review") << check.dump(2);
    if (!police.contains("review")) {
      ADD_FAILURE() << "no review in " << police.dump(2);
      return *id;
    }
    EXPECT_EQ(police["review"]["categories"], nlohmann::json::array({"intelligence"}));
    EXPECT_EQ(check["awaiting_agency_review"], nlohmann::json::array({"police"}));
    // What the policy lets go automatically is there already; intelligence is marked review.
    const auto* da = Category(police, "domestic_abuse");
    EXPECT_TRUE(da != nullptr && (*da)["outcome"] == "redacted") << police.dump(2);
    const auto* intel = Category(police, "intelligence");
    EXPECT_TRUE(intel != nullptr && (*intel)["outcome"] == "review") << police.dump(2);
    return *id;
  }

  agent::ReviewDecision By(agent::ReviewDecision::Kind kind, std::string category = "") {
    agent::ReviewDecision d;
    d.kind = kind;
    d.category = std::move(category);
    d.by = "c.custodian";
    return d;
  }

  std::unique_ptr<TestHub> hub_;
  agent::AgentConfig config_;
  common::SystemClock clock_;
};

TEST_F(CustodianReviewTest, ReleaseMakesTheAnswerArriveAndTheCheckCompile) {
  const std::string id = RaiseAndWaitForReview();
  const agent::ReviewItem item = OnlyItem();
  EXPECT_EQ(item.check_ref, id);
  EXPECT_EQ(item.status, "pending");
  auto decided = agent::DecideReview(config_, item.id, By(agent::ReviewDecision::Kind::kRelease),
                                     clock_.NowUnix());
  ASSERT_TRUE(decided.ok()) << decided.status().ToString();

  const auto check = WaitForPartState(*hub_, id, "police", "answered", 15s);
  const auto& police = Part(check, "police");
  ASSERT_EQ(police["state"], "answered") << check.dump(2);
  EXPECT_EQ(check["state"], "answered");
  EXPECT_TRUE(check["awaiting_agency_review"].empty());
  EXPECT_FALSE(police.contains("review"));
  const auto* intel = Category(police, "intelligence");
  ASSERT_NE(intel, nullptr);
  EXPECT_EQ((*intel)["outcome"], "shared");
  EXPECT_EQ((*intel)["level"], 1);  // involvement only, as the policy granted
  EXPECT_FALSE((*intel)["summary"].get<std::string>().empty());
  EXPECT_FALSE(intel->contains("latest"));
  // The earlier categories are still there.
  EXPECT_NE(Category(police, "domestic_abuse"), nullptr);

  // The follow-up gets its receipt like any answer; the item's personal data then goes.
  const agent::ReviewItem done = WaitReceipted(15s);
  EXPECT_EQ(done.status, "receipted");
  EXPECT_TRUE(done.subject.is_null());

  const auto events = EventsOfCheck(id);
  size_t pending = 0, received = 0, intel_disclosed = 0;
  for (const auto& e : events) {
    if (e.type == audit::EventType::kReviewPending) {
      ++pending;
      EXPECT_EQ(e.agency, "police");
      ASSERT_EQ(e.categories.size(), 1u);
      EXPECT_EQ(e.categories[0].category, "intelligence");
      EXPECT_EQ(e.categories[0].reason, "never_without_custodian");
    }
    if (e.type == audit::EventType::kAnswerReceived) ++received;
    if (e.type == audit::EventType::kCategoryDisclosed &&
        e.categories[0].category == "intelligence") {
      ++intel_disclosed;
      EXPECT_EQ(e.detail.rfind("custodian_review", 0), 0u) << e.detail;
    }
  }
  EXPECT_EQ(pending, 1u);
  EXPECT_EQ(received, 2u);  // the first answer and the follow-up
  EXPECT_EQ(intel_disclosed, 1u);

  // Decided once: the custodian cannot change it now.
  EXPECT_EQ(agent::DecideReview(config_, item.id, By(agent::ReviewDecision::Kind::kRelease),
                                clock_.NowUnix())
                .status()
                .code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(CustodianReviewTest, DeclineArrivesAsWithheldWithTheReason) {
  const std::string id = RaiseAndWaitForReview();
  auto decline = By(agent::ReviewDecision::Kind::kDecline, "intelligence");
  decline.reason = "live operation: disclosure would prejudice it";
  ASSERT_TRUE(agent::DecideReview(config_, OnlyItem().id, decline, clock_.NowUnix()).ok());
  const auto check = WaitForPartState(*hub_, id, "police", "answered", 15s);
  const auto& police = Part(check, "police");
  ASSERT_EQ(police["state"], "answered") << check.dump(2);
  const auto* intel = Category(police, "intelligence");
  ASSERT_NE(intel, nullptr);
  EXPECT_EQ((*intel)["outcome"], "withheld");
  EXPECT_EQ((*intel)["reason"],
            "declined by the agency's custodian: live operation: disclosure would prejudice it");
  EXPECT_FALSE(intel->contains("summary"));
  const auto events = EventsOfCheck(id);
  const bool withheld = std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kCategoryWithheld &&
           e.categories[0].category == "intelligence" && e.categories[0].disposition == "withheld";
  });
  EXPECT_TRUE(withheld);
}

TEST_F(CustodianReviewTest, TheDeadlineKeepsRunningAndALateAnswerIsMarked) {
  hub_.reset();
  // Every check is due 3 s after it goes out, round the clock, and chased at 2 s.
  hub_ = std::make_unique<TestHub>([](broker::BrokerConfig& c) {
    c.deadlines.hours.always = true;
    for (auto& [urgency, allowance] : c.deadlines.allowances) allowance = 3s;
    c.deadlines.chase_at = 0.66;
  });
  config_ = hub_->AgentConfigFor("police", Fixture("police"));
  const std::string id = RaiseAndWaitForReview();
  // Past the deadline the part still waits for the custodian, flagged overdue.
  const auto until = std::chrono::steady_clock::now() + 10s;
  nlohmann::json check = Peek(*hub_, id);
  while (!Part(check, "police")["review"].value("overdue", false) &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(100ms);
    check = Peek(*hub_, id);
  }
  ASSERT_TRUE(Part(check, "police")["review"]["overdue"].get<bool>()) << check.dump(2);
  EXPECT_EQ(Part(check, "police")["state"], "awaiting_agency_review");
  // The hub chased the agency before the deadline and marked the breach after it; the
  // custodian's queue shows the chase with the deadline the hub gave.
  EXPECT_TRUE(Part(check, "police").contains("chased_at")) << check.dump(2);
  EXPECT_TRUE(Part(check, "police").value("breached", false)) << check.dump(2);
  EXPECT_EQ(check["overdue"], true);
  EXPECT_NE(check.value("note", "").find("has not answered"), std::string::npos) << check.dump(2);
  const auto chased_until = std::chrono::steady_clock::now() + 10s;
  while (OnlyItem().chased_at == 0 && std::chrono::steady_clock::now() < chased_until) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_NE(OnlyItem().chased_at, 0);
  EXPECT_EQ(OnlyItem().chase_deadline, check["due_at"]);
  ASSERT_TRUE(agent::DecideReview(config_, OnlyItem().id, By(agent::ReviewDecision::Kind::kRelease),
                                  clock_.NowUnix())
                  .ok());
  check = WaitForPartState(*hub_, id, "police", "answered", 15s);
  const auto& police = Part(check, "police");
  ASSERT_EQ(police["state"], "answered") << check.dump(2);
  EXPECT_TRUE(police["late"].get<bool>());
  EXPECT_EQ((*Category(police, "intelligence"))["outcome"], "shared");
}

// The hub chases a part that waits for the custodian (docs/protocol.md, step 8): the test
// seals the chase as the broker will, with its courier on its io thread, and sends it on the
// agency's connection.
class ChaseTest : public CustodianReviewTest {
 protected:
  static constexpr const char* kDeadline = "2026-11-23T10:00:00.000Z";

  crypto::SealedEnvelope SealChase(const std::string& check, const std::string& query_id,
                                   const std::string& deadline = kDeadline) {
    return OnIo(hub_->io(), [&] {
      schemas::ChaseBody body;
      body.query_id = query_id;
      body.deadline = deadline;
      body.urgency = "amber";
      body.state = "awaiting_review";
      crypto::EnvelopeHeader header;
      header.type = "chase";
      header.check_ref = check;
      header.urgency = "amber";
      auto sealed = hub_->broker().courier().Seal("police", header, body.ToJson().dump(), 60s);
      EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
      // Sent by hand below: its place in the outbox is given up when the ticket goes here.
      return sealed.ok() ? sealed->envelope : crypto::SealedEnvelope{};
    });
  }

  void Send(const crypto::SealedEnvelope& sealed) {
    const std::string frame =
        schemas::EnvelopeFrame(schemas::MessageType::kChase, sealed.ToJson()).dump();
    EXPECT_NE(OnIo(hub_->io(), [&] { return hub_->broker().hub().Send("police", frame); }), 0u);
  }

  // `mash-agent status --json` once its chases count `which` is `n` (or the time passed).
  nlohmann::json WaitChases(const char* which, int64_t n) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    nlohmann::json s = agent::CollectStatus(config_, clock_.NowUnix());
    while (Chases(s, which) != n && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
      s = agent::CollectStatus(config_, clock_.NowUnix());
    }
    return s;
  }

  static int64_t Chases(const nlohmann::json& s, const char* which) {
    return s.value("/chases"_json_pointer, nlohmann::json::object()).value(which, int64_t{-1});
  }
};

TEST_F(ChaseTest, AChaseMarksTheReviewItemAndTheStatusCountsIt) {
  const std::string id = RaiseAndWaitForReview();
  const agent::ReviewItem before = OnlyItem();
  EXPECT_EQ(agent::ReviewStatusText(before), "pending");

  Send(SealChase(id, before.query_id));
  const auto s = WaitChases("received_since_start", 1);
  EXPECT_EQ(Chases(s, "received_since_start"), 1) << s.dump(2);
  EXPECT_EQ(Chases(s, "refused_since_start"), 0);
  EXPECT_TRUE(s["chases"]["last_received_at"].is_string());
  EXPECT_NE(agent::FormatStatus(s).find("hub chases   1 since start"), std::string::npos);

  const agent::ReviewItem item = OnlyItem();
  EXPECT_NE(item.chased_at, 0);
  EXPECT_EQ(item.chase_deadline, kDeadline);
  EXPECT_EQ(agent::ReviewStatusText(item), std::string("pending, CHASED, due ") + kDeadline);
  // Nothing answered the chase: the part still waits for the custodian.
  EXPECT_EQ(Part(Peek(*hub_, id), "police")["state"], "awaiting_agency_review");

  // Released after the chase: the follow-up arrives as ever.
  ASSERT_TRUE(agent::DecideReview(config_, item.id, By(agent::ReviewDecision::Kind::kRelease),
                                  clock_.NowUnix())
                  .ok());
  const auto check = WaitForPartState(*hub_, id, "police", "answered", 15s);
  EXPECT_EQ(Part(check, "police")["state"], "answered") << check.dump(2);
}

TEST_F(ChaseTest, BadSignatureReplayAndExpiryAreRefusedAndChangeNothing) {
  const std::string id = RaiseAndWaitForReview();
  const agent::ReviewItem item = OnlyItem();

  // A flipped bit in the broker's signature.
  crypto::SealedEnvelope forged = SealChase(id, item.query_id);
  forged.sig[0] ^= 0x01;
  Send(forged);
  auto s = WaitChases("refused_since_start", 1);
  EXPECT_EQ(Chases(s, "refused_since_start"), 1) << s.dump(2);

  // Sealed with the hub's real keys, but expired before it is sent.
  {
    const auto keys = hub_->dir() / "keys";
    auto sign = crypto::LoadSigningKey(keys / "hub.sign.key");
    auto police_enc = crypto::LoadEncryptionKey(config_.enc_key);
    ASSERT_TRUE(sign.ok() && police_enc.ok());
    schemas::ChaseBody body{item.query_id, kDeadline, "amber", "awaiting_review"};
    crypto::EnvelopeHeader h;
    h.type = "chase";
    h.id = std::string(32, 'a');
    h.sender = "hub";
    h.sender_key = sign->Public().Fingerprint();
    h.recipient = "police";
    h.recipient_key = police_enc->Public().Fingerprint();
    h.issued_at = clock_.NowUnix() - 400;
    h.expires_at = h.issued_at + 120;
    h.sequence = 1;
    h.check_ref = id;
    h.urgency = "amber";
    common::SystemRandom random;
    const std::string text = body.ToJson().dump();
    auto expired = crypto::Seal(h, common::AsBytes(text), *sign, police_enc->Public(), random);
    ASSERT_TRUE(expired.ok()) << expired.status().ToString();
    Send(*expired);
  }
  s = WaitChases("refused_since_start", 2);
  EXPECT_EQ(Chases(s, "refused_since_start"), 2) << s.dump(2);
  EXPECT_EQ(Chases(s, "received_since_start"), 0);
  agent::ReviewItem now = OnlyItem();
  EXPECT_EQ(now.chased_at, 0);
  EXPECT_EQ(now.chase_deadline, "");

  // A good one, then the same envelope again: the copy is refused and the mark stays.
  const crypto::SealedEnvelope once = SealChase(id, item.query_id);
  Send(once);
  s = WaitChases("received_since_start", 1);
  ASSERT_EQ(Chases(s, "received_since_start"), 1) << s.dump(2);
  const int64_t first = OnlyItem().chased_at;
  EXPECT_NE(first, 0);
  std::this_thread::sleep_for(1100ms);  // a second copy accepted would move chased_at
  Send(once);
  s = WaitChases("refused_since_start", 3);
  EXPECT_EQ(Chases(s, "refused_since_start"), 3) << s.dump(2);
  EXPECT_EQ(Chases(s, "received_since_start"), 1);
  now = OnlyItem();
  EXPECT_EQ(now.chased_at, first);
  EXPECT_EQ(now.chase_deadline, kDeadline);
  // The agent stays connected: a dropped chase does not end the connection.
  EXPECT_TRUE(hub_->WaitOnline("police", 1s));
}

TEST_F(ChaseTest, AChaseForAQueryTheAgentNeverHadIsNotAnswered) {
  const std::string id = RaiseAndWaitForReview();
  common::SystemRandom random;
  Send(SealChase(random.Hex(16), random.Hex(16)));
  const auto s = WaitChases("received_since_start", 1);
  EXPECT_EQ(Chases(s, "received_since_start"), 1) << s.dump(2);
  EXPECT_EQ(Chases(s, "refused_since_start"), 0);
  EXPECT_EQ(OnlyItem().chased_at, 0);
  EXPECT_EQ(Part(Peek(*hub_, id), "police")["state"], "awaiting_agency_review");
  EXPECT_TRUE(hub_->WaitOnline("police", 1s));
}

// A hand-driven "police" connection that seals review_pending envelopes with police's real keys.
class ForgedReviewTest : public CustodianReviewTest {
 protected:
  void SetUp() override {
    CustodianReviewTest::SetUp();
    const auto keys = hub_->dir() / "keys";
    auto sign = crypto::LoadSigningKey(keys / "police.sign.key");
    ASSERT_TRUE(sign.ok());
    sign_.emplace(std::move(*sign));
    auto hub_enc = crypto::LoadEncryptionPublicKey(keys / "hub.enc.pub");
    ASSERT_TRUE(hub_enc.ok());
    hub_enc_ = *hub_enc;
    client_ = std::make_unique<RawClient>(hub_->pki().ClientOptions("police"), hub_->agent_port());
    ASSERT_TRUE(client_->Connect());
    ASSERT_TRUE(client_->SendText(RawClient::Hello("police", keys)));
    auto welcome = client_->Read(5s);
    ASSERT_TRUE(welcome.has_value());
  }

  std::string ReviewPending(const std::string& check_ref, const std::string& query_id) {
    schemas::ReviewPendingBody body;
    body.query_id = query_id;
    body.policy_version = "sha256:" + std::string(64, '0');
    body.categories.push_back({"intelligence", "never_without_custodian", "intelligence-urgent"});
    return Sealed(schemas::MessageType::kReviewPending, check_ref, body.ToJson().dump());
  }

  std::string Answer(const std::string& check_ref, const std::string& query_id,
                     std::vector<schemas::CategoryAnswer> categories) {
    schemas::AnswerBody a;
    a.query_id = query_id;
    a.held = true;
    a.match = "confirmed";
    a.categories = std::move(categories);
    a.policy_version = "sha256:" + std::string(64, '0');
    a.source = "raw";
    return Sealed(schemas::MessageType::kAnswer, check_ref, a.ToJson().dump());
  }

  std::string Sealed(schemas::MessageType type, const std::string& check_ref,
                     const std::string& text) {
    crypto::EnvelopeHeader h;
    h.type = std::string(schemas::MessageTypeName(type));
    h.id = random_.Hex(16);
    h.sender = "police";
    h.sender_key = sign_->Public().Fingerprint();
    h.recipient = "hub";
    h.recipient_key = hub_enc_.Fingerprint();
    h.issued_at = clock_.NowUnix();
    h.expires_at = h.issued_at + 60;
    h.sequence = ++sequence_;
    h.check_ref = check_ref;
    h.purpose = "child-protection-s47";
    h.lawful_basis = "uk-gdpr-6-1-e";
    h.consent = "given";
    h.urgency = "amber";
    auto sealed = crypto::Seal(h, common::AsBytes(text), *sign_, hub_enc_, random_);
    EXPECT_TRUE(sealed.ok());
    return schemas::EnvelopeFrame(type, sealed->ToJson()).dump();
  }

  // Reads the query the broker sends to this connection and returns its query id.
  std::string ReadQueryId() {
    for (int i = 0; i < 4; ++i) {
      auto text = client_->Read(5s);
      if (!text) break;
      auto frame = schemas::ParseFrame(*text);
      if (!frame.ok() || frame->type != schemas::MessageType::kQuery) continue;
      auto env = crypto::SealedEnvelope::FromJson(frame->doc.at("envelope"));
      const auto keys = hub_->dir() / "keys";
      auto enc = crypto::LoadEncryptionKey(keys / "police.enc.key");
      auto hub_sign = crypto::LoadSigningPublicKey(keys / "hub.sign.pub");
      if (!env.ok() || !enc.ok() || !hub_sign.ok()) break;
      class AcceptAll final : public crypto::ReplayGuard {
       public:
        Status CheckAndRecord(const std::string&, const std::string&, uint64_t, int64_t) override {
          return Status::Ok();
        }
      } replay;
      crypto::OpenExpectations expect{"hub", &*hub_sign, "police", &*enc, clock_.NowUnix()};
      auto opened = crypto::Open(*env, expect, replay);
      if (!opened.ok()) break;
      auto body = schemas::QueryBody::Parse(common::AsString(opened->plaintext.span()));
      if (body.ok()) return body->query_id;
    }
    ADD_FAILURE() << "no query arrived";
    return "";
  }

  // The broker's reply to a frame: the first error frame.
  std::string ReplyTo(const std::string& frame) {
    EXPECT_TRUE(client_->SendText(frame));
    for (int i = 0; i < 4; ++i) {
      auto msg = client_->Read(5s);
      if (!msg) return "";
      if (msg->find("\"error\"") != std::string::npos) return *msg;
    }
    return "";
  }

  std::optional<crypto::SigningKey> sign_;
  crypto::EncryptionPublicKey hub_enc_;
  common::SystemRandom random_;
  uint64_t sequence_ = 0;
  std::unique_ptr<RawClient> client_;
};

TEST_F(ForgedReviewTest, ReviewPendingForAnUnknownQueryIsRefused) {
  const std::string reply = ReplyTo(ReviewPending(random_.Hex(16), random_.Hex(16)));
  EXPECT_NE(reply.find("bad_request"), std::string::npos) << reply;
  EXPECT_NE(reply.find("cannot process request"), std::string::npos) << reply;
}

TEST_F(ForgedReviewTest, AChaseFromAnAgencyIsRefused) {
  // Only the hub chases: the broker takes a chase frame from an agent for a protocol error.
  schemas::ChaseBody body{random_.Hex(16), "2026-11-23T10:00:00.000Z", "amber", "unanswered"};
  const std::string reply =
      ReplyTo(Sealed(schemas::MessageType::kChase, random_.Hex(16), body.ToJson().dump()));
  EXPECT_NE(reply.find("bad_request"), std::string::npos) << reply;
}

TEST_F(ForgedReviewTest, ReviewPendingFromAnotherAgencyIsRefused) {
  // A check asked of health only: police cannot announce a review for it.
  auto id = hub_->Raise(AmberRequest({"health"}));
  ASSERT_TRUE(id.ok());
  const std::string reply = ReplyTo(ReviewPending(*id, random_.Hex(16)));
  EXPECT_NE(reply.find("bad_request"), std::string::npos) << reply;
  const auto check = Peek(*hub_, *id);
  EXPECT_EQ(Part(check, "health")["state"], "waiting_for_agent");
  EXPECT_TRUE(check["awaiting_agency_review"].empty());
  const auto events = EventsOfCheck(*id);
  const bool recorded = std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kRequestFailed && e.detail == "review_pending_unmatched" &&
           e.agency == "police";
  });
  EXPECT_TRUE(recorded);
  EXPECT_FALSE(std::any_of(events.begin(), events.end(), [](const auto& e) {
    return e.type == audit::EventType::kReviewPending;
  }));
}

TEST_F(ForgedReviewTest, ReviewPendingForAQueryOfThisAgencyWithAnotherQueryIdIsRefused) {
  // The check is asked of police (this raw connection gets the query); a review_pending that
  // names another query id is refused and changes nothing.
  auto id = hub_->Raise(AmberRequest({"police"}));
  ASSERT_TRUE(id.ok());
  ASSERT_FALSE(ReadQueryId().empty());
  const std::string reply = ReplyTo(ReviewPending(*id, random_.Hex(16)));
  EXPECT_NE(reply.find("bad_request"), std::string::npos) << reply;
  EXPECT_TRUE(Peek(*hub_, *id)["awaiting_agency_review"].empty());
}

TEST_F(ForgedReviewTest, FollowUpMayCarryOnlyTheCategoriesThatWait) {
  auto id = hub_->Raise(AmberRequest({"police"}));
  ASSERT_TRUE(id.ok());
  const std::string query_id = ReadQueryId();
  ASSERT_FALSE(query_id.empty());
  ASSERT_TRUE(client_->SendText(ReviewPending(*id, query_id)));
  const auto category = [](const char* name, const char* outcome) {
    schemas::CategoryAnswer c;
    c.category = name;
    c.outcome = outcome;
    return c;
  };
  schemas::CategoryAnswer da = category("domestic_abuse", "shared");
  da.summary = "A summary.";
  da.level = 1;
  schemas::CategoryAnswer intel = category("intelligence", "review");
  ASSERT_TRUE(client_->SendText(Answer(*id, query_id, {da, intel})));
  const auto until = std::chrono::steady_clock::now() + 10s;
  nlohmann::json check = Peek(*hub_, *id);
  while (!Part(check, "police").contains("answer") && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(20ms);
    check = Peek(*hub_, *id);
  }
  ASSERT_EQ(Part(check, "police")["state"], "awaiting_agency_review") << check.dump(2);

  // A category that does not wait, a "review" again, or nothing: refused, nothing changes.
  da.summary = "Something else.";
  EXPECT_NE(ReplyTo(Answer(*id, query_id, {da})).find("bad_request"), std::string::npos);
  EXPECT_NE(ReplyTo(Answer(*id, query_id, {intel})).find("bad_request"), std::string::npos);
  EXPECT_NE(ReplyTo(Answer(*id, query_id, {})).find("bad_request"), std::string::npos);
  EXPECT_NE(ReplyTo(Answer(*id, random_.Hex(16), {intel})).find("bad_request"), std::string::npos);
  check = Peek(*hub_, *id);
  EXPECT_EQ((*Category(Part(check, "police"), "domestic_abuse"))["summary"], "A summary.");
  EXPECT_EQ(Part(check, "police")["state"], "awaiting_agency_review");

  // The category that waits, decided: merged, and the part is answered.
  schemas::CategoryAnswer withheld = category("intelligence", "withheld");
  withheld.reason = "declined by the agency's custodian: not now";
  ASSERT_TRUE(client_->SendText(Answer(*id, query_id, {withheld})));
  check = WaitForPartState(*hub_, *id, "police", "answered", 10s);
  ASSERT_EQ(Part(check, "police")["state"], "answered") << check.dump(2);
  EXPECT_EQ((*Category(Part(check, "police"), "intelligence"))["outcome"], "withheld");
  // Decided once: the same category again is refused.
  EXPECT_NE(ReplyTo(Answer(*id, query_id, {withheld})).find("bad_request"), std::string::npos);
}

}  // namespace
}  // namespace mash::testing
