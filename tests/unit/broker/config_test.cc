// broker.toml: the audit and policy sections, and the errors an operator gets for them.
#include "mash/broker/config.h"

#include <gtest/gtest.h>

#include <fstream>

#include "support/temp_dir.h"

namespace mash::broker {
namespace {

constexpr const char* kBase = R"(
[tls]
ca = "root.pem"
crls = ["root.crl.pem"]
cert = "broker.pem"
key = "broker.key"

[keys]
sign = "hub.sign.key"
enc = "hub.enc.key"

[storage]
database = "hub.db"
key = "hub.db.key"

[[agency]]
id = "police"
name = "Police"
type = "police"
sign_public_key = "police.sign.pub"
enc_public_key = "police.enc.pub"
)";

constexpr const char* kAudit = R"(
[audit]
database = "audit.db"
key = "audit.db.key"
checkpoint_key = "hub.audit.sign.key"
pseudonym_key = "hub.pseudonym.key"
)";

class BrokerConfigTest : public ::testing::Test {
 protected:
  Result<BrokerConfig> Load(const std::string& text) {
    const auto path = dir_ / "broker.toml";
    std::ofstream(path) << text;
    return LoadBrokerConfig(path);
  }
  testing::TempDir dir_{"mash-broker-config"};
};

TEST_F(BrokerConfigTest, ReadsTheAuditAndPolicySections) {
  auto c = Load(std::string(kBase) + kAudit + R"(
checkpoint_every_events = 50
checkpoint_every_s = 3
retention_days = 2555
anchor_file = "anchor.txt"
max_size_mb = 4096

[policy]
store = "policy"
trusted_keys = ["dpo.sign.pub"]

[[api_token]]
user = "m"
role = "manager"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->audit.database, dir_ / "audit.db");
  EXPECT_EQ(c->audit.checkpoint_key, dir_ / "hub.audit.sign.key");
  EXPECT_EQ(c->audit.checkpoint_every_events, 50u);
  EXPECT_EQ(c->audit.checkpoint_every, std::chrono::seconds(3));
  ASSERT_TRUE(c->audit.retention.has_value());
  EXPECT_EQ(*c->audit.retention, std::chrono::hours(24 * 2555));
  EXPECT_EQ(c->audit.anchor_file, dir_ / "anchor.txt");
  EXPECT_EQ(c->audit.max_size_mb, 4096u);
  EXPECT_EQ(c->policy.store, dir_ / "policy");
  EXPECT_TRUE(c->policy.agreement.empty());
  ASSERT_EQ(c->policy.trusted_keys.size(), 1u);
  EXPECT_EQ(c->api_tokens[0].role, "manager");
}

TEST_F(BrokerConfigTest, TheAuditLogIsRequired) {
  auto c = Load(std::string(kBase) + "\n[policy]\nagreement = \"hub.bundle.json\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("audit.database"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("audit.checkpoint_key"), std::string::npos);
  EXPECT_NE(c.status().message().find("audit.pseudonym_key"), std::string::npos);
}

TEST_F(BrokerConfigTest, ExactlyOnePolicySource) {
  auto none = Load(std::string(kBase) + kAudit);
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("exactly one of policy.agreement and policy.store"),
            std::string::npos)
      << none.status().message();
  auto both = Load(std::string(kBase) + kAudit +
                   "\n[policy]\nagreement = \"a.bundle.json\"\nstore = \"policy\"\n");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("exactly one"), std::string::npos);
}

TEST_F(BrokerConfigTest, TheAuditLogHasItsOwnDatabase) {
  std::string audit = kAudit;
  audit.replace(audit.find("audit.db\""), 9, "hub.db\"");
  auto c = Load(std::string(kBase) + audit + "\n[policy]\nagreement = \"a.toml\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("must not be storage.database"), std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, TokenRolesComeFromTheVocabularyWithPositions) {
  auto c = Load(std::string(kBase) + kAudit + R"(
[policy]
agreement = "a.toml"

[[api_token]]
user = "x"
role = "superuser"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("broker.toml:"), std::string::npos);
  EXPECT_NE(c.status().message().find("role must be one of the vocabulary's roles"),
            std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, UnknownAuditKeysAreErrors) {
  auto c = Load(std::string(kBase) + kAudit + "checkpoint_evry_events = 5\n" +
                "\n[policy]\nagreement = \"a.toml\"\n");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("checkpoint_evry_events"), std::string::npos)
      << c.status().message();
}

TEST_F(BrokerConfigTest, ReadsTheEnrolmentSection) {
  const std::string policy = "\n[policy]\nagreement = \"hub.toml\"\n";
  auto none = Load(std::string(kBase) + kAudit + policy);
  ASSERT_TRUE(none.ok()) << none.status().message();
  EXPECT_FALSE(none->enrolment.has_value());

  auto c = Load(std::string(kBase) + kAudit + policy + R"(
[enrolment]
issuing_ca_cert = "issuing-ca.pem"
issuing_ca_key = "issuing-ca.key"
certificate_lifetime_days = 30
token_lifetime_minutes = 15
agent_url = "wss://hub.example:8443/agent/v1"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->enrolment.has_value());
  EXPECT_EQ(c->enrolment->issuing_ca_key, dir_ / "issuing-ca.key");
  EXPECT_EQ(c->enrolment->certificate_lifetime, std::chrono::hours(24 * 30));
  EXPECT_EQ(c->enrolment->token_lifetime, std::chrono::minutes(15));
  EXPECT_EQ(c->enrolment->renew_window, std::chrono::hours(24 * 10));  // a third, by default
  EXPECT_EQ(c->enrolment->agent_url, "wss://hub.example:8443/agent/v1");
}

TEST_F(BrokerConfigTest, EnrolmentLimitsAreEnforced) {
  const std::string head = std::string(kBase) + kAudit +
                           "\n[policy]\nagreement = \"hub.toml\"\n[enrolment]\n"
                           "issuing_ca_cert = \"i.pem\"\nissuing_ca_key = \"i.key\"\n";
  auto long_life = Load(head + "certificate_lifetime_days = 91\n");
  ASSERT_FALSE(long_life.ok());
  EXPECT_NE(long_life.status().message().find("certificate_lifetime_days"), std::string::npos);
  auto window = Load(head + "certificate_lifetime_days = 30\nrenew_window_days = 30\n");
  ASSERT_FALSE(window.ok());
  EXPECT_NE(window.status().message().find("renew_window_days"), std::string::npos);
  auto url = Load(head + "agent_url = \"https://hub:8443/agent/v1\"\n");
  ASSERT_FALSE(url.ok());
  EXPECT_NE(url.status().message().find("agent_url"), std::string::npos);
  auto no_ca =
      Load(std::string(kBase) + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n[enrolment]\n");
  ASSERT_FALSE(no_ca.ok());
  EXPECT_NE(no_ca.status().message().find("issuing_ca_cert"), std::string::npos);
}

TEST_F(BrokerConfigTest, AdminIsARole) {
  auto c = Load(std::string(kBase) + kAudit + R"(
[policy]
agreement = "hub.toml"
[[api_token]]
user = "ada"
role = "admin"
sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->api_tokens.at(0).role, "admin");
}

TEST_F(BrokerConfigTest, ReadsTheStaffSectionWithDefaultsAndLimits) {
  const std::string head = std::string(kBase) + kAudit + "\n[policy]\nagreement = \"hub.toml\"\n";
  auto defaults = Load(head);
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_EQ(defaults->staff.lockout_attempts, 5);
  EXPECT_EQ(defaults->staff.lockout, std::chrono::minutes(15));
  EXPECT_EQ(defaults->staff.session, std::chrono::hours(8));
  EXPECT_EQ(defaults->staff.session_idle, std::chrono::minutes(30));
  EXPECT_EQ(defaults->staff.token_days_max, 365);
  auto c = Load(head + R"(
[staff]
lockout_attempts = 3
lockout_minutes = 60
session_hours = 4
session_idle_minutes = 10
token_days_max = 30
)");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->staff.lockout_attempts, 3);
  EXPECT_EQ(c->staff.lockout, std::chrono::minutes(60));
  EXPECT_EQ(c->staff.session, std::chrono::hours(4));
  EXPECT_EQ(c->staff.session_idle, std::chrono::minutes(10));
  EXPECT_EQ(c->staff.token_days_max, 30);
  auto too_long = Load(head + "[staff]\ntoken_days_max = 366\n");
  ASSERT_FALSE(too_long.ok());
  EXPECT_NE(too_long.status().message().find("token_days_max"), std::string::npos);
  auto unknown = Load(head + "[staff]\npassword = \"x\"\n");
  EXPECT_FALSE(unknown.ok());
}

}  // namespace
}  // namespace mash::broker
