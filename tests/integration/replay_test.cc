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

  crypto::SealedEnvelope HubQuery(uint64_t sequence) {
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
    h.id = random_.Hex(16);
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
