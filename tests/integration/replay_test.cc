// Replay protection at the agent: a valid query replayed inside its window is refused, and still
// refused after the agent restarts (the replay cache lives in SQLCipher).
#include <gtest/gtest.h>

#include "harness.h"
#include "mash/crypto/envelope.h"
#include "mash/crypto/keys.h"

namespace mash::testing {
namespace {

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hub_ = std::make_unique<TestHub>();
    config_ = hub_->AgentConfigFor(
        "police", std::filesystem::path(MASH_SOURCE_DIR) / "examples/records/police.json");
  }

  crypto::SealedEnvelope HubQuery(uint64_t sequence, std::string id = "") {
    const auto keys = hub_->dir() / "keys";
    auto hub_sign = crypto::LoadSigningKey(keys / "hub.sign.key");
    auto police_enc = crypto::LoadEncryptionPublicKey(keys / "police.enc.pub");
    EXPECT_TRUE(hub_sign.ok() && police_enc.ok());
    schemas::QueryBody q;
    q.query_id = random_.Hex(16);
    q.level = 1;
    q.subject.identifiers["nhs_number"] = "9434765919";
    crypto::EnvelopeHeader h;
    h.type = "query";
    h.id = id.empty() ? random_.Hex(16) : id;
    h.sender = "hub";
    h.sender_key = hub_sign->Public().Fingerprint();
    h.recipient = "police";
    h.recipient_key = police_enc->Fingerprint();
    h.issued_at = clock_.NowUnix();
    h.expires_at = h.issued_at + 120;
    h.sequence = sequence;
    h.check_ref = random_.Hex(16);
    h.purpose = "child-protection-s47";
    h.lawful_basis = "uk-gdpr-6-1-e";
    h.consent = "given";
    h.urgency = "amber";
    const std::string body = q.ToJson().dump();
    auto sealed = crypto::Seal(h, common::AsBytes(body), *hub_sign, *police_enc, random_);
    EXPECT_TRUE(sealed.ok());
    return *sealed;
  }

  std::unique_ptr<TestHub> hub_;
  agent::AgentConfig config_;
  common::SystemClock clock_;
  common::SystemRandom random_;
};

TEST_F(ReplayTest, ValidQueryReplayedInsideItsWindowIsRefused) {
  auto responder = agent::Responder::Create(config_, clock_, random_);
  ASSERT_TRUE(responder.ok()) << responder.status().ToString();
  const auto query = HubQuery(1);
  auto first = (*responder)->Answer(query);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto again = (*responder)->Answer(query);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kUnauthenticated);
  // A fresh query with a higher sequence number still gets through.
  EXPECT_TRUE((*responder)->Answer(HubQuery(2)).ok());
}

TEST_F(ReplayTest, ReplayIsStillRefusedAfterTheAgentRestarts) {
  const auto query = HubQuery(10);
  {
    auto responder = agent::Responder::Create(config_, clock_, random_);
    ASSERT_TRUE(responder.ok());
    ASSERT_TRUE((*responder)->Answer(query).ok());
  }
  auto restarted = agent::Responder::Create(config_, clock_, random_);
  ASSERT_TRUE(restarted.ok());
  EXPECT_FALSE((*restarted)->Answer(query).ok());
  // An older sequence number with a new id is refused too.
  EXPECT_FALSE((*restarted)->Answer(HubQuery(9)).ok());
  EXPECT_TRUE((*restarted)->Answer(HubQuery(11)).ok());
}

TEST_F(ReplayTest, RememberedIdIsRefusedAfterRestartEvenWithAHigherSequence) {
  const std::string id(32, 'e');
  {
    auto responder = agent::Responder::Create(config_, clock_, random_);
    ASSERT_TRUE(responder.ok());
    ASSERT_TRUE((*responder)->Answer(HubQuery(20, id)).ok());
  }
  auto restarted = agent::Responder::Create(config_, clock_, random_);
  ASSERT_TRUE(restarted.ok());
  // Re-signed with a fresh sequence number, the same message id is still a replay.
  EXPECT_FALSE((*restarted)->Answer(HubQuery(21, id)).ok());
  EXPECT_TRUE((*restarted)->Answer(HubQuery(22)).ok());
}

TEST_F(ReplayTest, BrokerRefusesAReplayedAnswerAfterItRestarts) {
  hub_->StopBroker();  // the test opens the broker's database itself
  const auto keys = hub_->dir() / "keys";
  auto police_sign = crypto::LoadSigningKey(keys / "police.sign.key");
  auto hub_enc = crypto::LoadEncryptionPublicKey(keys / "hub.enc.pub");
  ASSERT_TRUE(police_sign.ok() && hub_enc.ok());
  crypto::EnvelopeHeader h;
  h.type = "answer";
  h.id = random_.Hex(16);
  h.sender = "police";
  h.sender_key = police_sign->Public().Fingerprint();
  h.recipient = "hub";
  h.recipient_key = hub_enc->Fingerprint();
  h.issued_at = clock_.NowUnix();
  h.expires_at = h.issued_at + 120;
  h.sequence = 5;
  h.check_ref = random_.Hex(16);
  const std::string body = R"({"query_id":")" + std::string(32, 'a') +
                           R"(","held":false,"match":"none","categories":[],)"
                           R"("policy_version":"unversioned","source":"test"})";
  auto sealed = crypto::Seal(h, common::AsBytes(body), *police_sign, *hub_enc, random_);
  ASSERT_TRUE(sealed.ok());
  {
    auto courier = broker::Courier::Create(hub_->config(), clock_, random_);
    ASSERT_TRUE(courier.ok()) << courier.status().ToString();
    ASSERT_TRUE((*courier)->OpenFrom("police", *sealed).ok());
    EXPECT_FALSE((*courier)->OpenFrom("police", *sealed).ok());
  }
  auto restarted = broker::Courier::Create(hub_->config(), clock_, random_);
  ASSERT_TRUE(restarted.ok());
  auto again = (*restarted)->OpenFrom("police", *sealed);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), "replayed");
  // The same envelope arriving on another agency's connection fails its signature check.
  EXPECT_FALSE((*restarted)->OpenFrom("health", *sealed).ok());
}

TEST_F(ReplayTest, QueryForAnotherAgencyIsRefused) {
  auto responder = agent::Responder::Create(config_, clock_, random_);
  ASSERT_TRUE(responder.ok());
  auto cfg = hub_->AgentConfigFor(
      "health", std::filesystem::path(MASH_SOURCE_DIR) / "examples/records/health.json");
  auto health = agent::Responder::Create(cfg, clock_, random_);
  ASSERT_TRUE(health.ok());
  EXPECT_FALSE((*health)->Answer(HubQuery(1)).ok());
}

}  // namespace
}  // namespace mash::testing
