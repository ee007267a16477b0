// The pure parts of disclosure at the agent (consent field, disposition of a decision) and the
// loading of the policy: signatures once keys are configured, the policy kind and agency type,
// and the [policy] and [audit] tables of agent.toml.
#include "mash/agent/disclosure.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_util.h"
#include "mash/agent/config.h"
#include "mash/policy/bundle.h"
#include "mash/policy/store.h"

namespace mash::agent::testing {
namespace {

using ::testing::HasSubstr;

TEST(ConsentTagTest, ReadsTheStateAndTheOverrideGround) {
  auto given = ParseConsentTag("given");
  ASSERT_TRUE(given.ok());
  EXPECT_EQ(given->state, "given");
  EXPECT_EQ(given->override_ground, "");
  auto over = ParseConsentTag("not_sought;override:child_significant_harm");
  ASSERT_TRUE(over.ok());
  EXPECT_EQ(over->state, "not_sought");
  EXPECT_EQ(over->override_ground, "child_significant_harm");
  auto refused = ParseConsentTag("refused;override:serious_crime");
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->state, "refused");
  EXPECT_EQ(refused->override_ground, "serious_crime");
}

TEST(ConsentTagTest, RefusesWhatIsNotInTheVocabulary) {
  for (const std::string bad :
       {"", "Given", "override:serious_crime", "given;override:", "given;override:none",
        "given;override:serious_crime;override:unjustified_delay", "given;serious_crime",
        "not_sought;override:Serious_crime"}) {
    EXPECT_EQ(ParseConsentTag(bad).status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

policy::Policy ParseOk(const std::string& text) {
  auto p = policy::ParsePolicyOrError(text, "test.toml");
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  return *p;
}

const char* kHeader = R"(kind = "disclosure-policy"
id = "t"
title = "t"
owner = "t"
review_date = 2027-12-31
agency_type = "police"
never_without_custodian = ["intelligence"]
)";

policy::Request Req(const std::string& category, int level) {
  policy::Request r;
  r.category = category;
  r.level = level;
  return r;
}

CategoryRecords Held() {
  CategoryRecords c;
  c.summary = "summary";
  c.latest = "2026-01-02";
  c.records = nlohmann::json::array({{{"date", "2026-01-02"}, {"names", "x"}, {"note", "y"}}});
  return c;
}

TEST(DiscloseTest, ContentFollowsTheGrantedLevel) {
  const auto p = ParseOk(std::string(kHeader) + R"(
[[rule]]
id = "all"
effect = "permit"
max_level = 3
)");
  for (int level : {1, 2, 3}) {
    const auto d = policy::Evaluate(p, Req("incidents", level), kStart);
    const auto c = Disclose(p, d, "incidents", Held());
    EXPECT_EQ(c.outcome, "shared");
    EXPECT_EQ(c.level, level);
    EXPECT_EQ(c.rule, "all");
    EXPECT_EQ(c.summary, "summary");
    EXPECT_EQ(c.latest.empty(), level < 2);
    EXPECT_EQ(c.records.empty(), level < 3);
  }
}

TEST(DiscloseTest, ReviewObligationsAndNeverWithoutCustodianHoldEverything) {
  const auto p = ParseOk(std::string(kHeader) + R"(
[[rule]]
id = "reviewed"
effect = "permit"
categories = ["incidents"]
max_level = 3
review = "custodian"

[[rule]]
id = "second"
effect = "permit"
categories = ["arrests"]
max_level = 3
obligations = ["second_approver"]

[[rule]]
id = "intel"
effect = "permit"
categories = ["intelligence"]
max_level = 3
)");
  for (const std::string cat : {"incidents", "arrests", "intelligence"}) {
    const auto d = policy::Evaluate(p, Req(cat, 3), kStart);
    ASSERT_EQ(d.effect, policy::Effect::kPermit) << cat;
    const auto c = Disclose(p, d, cat, Held());
    EXPECT_EQ(c.outcome, "review") << cat;
    EXPECT_THAT(c.reason, HasSubstr("custodian"));
    EXPECT_TRUE(c.summary.empty() && c.latest.empty() && c.records.empty()) << cat;
    EXPECT_EQ(c.level, -1);
  }
}

TEST(DiscloseTest, RedactsEveryListedFieldAndSaysWhich) {
  const auto p = ParseOk(std::string(kHeader) + R"(
[[rule]]
id = "redacting"
effect = "permit"
max_level = 3
redact = ["names", "note"]
)");
  const auto d = policy::Evaluate(p, Req("incidents", 3), kStart);
  const auto c = Disclose(p, d, "incidents", Held());
  EXPECT_EQ(c.outcome, "redacted");
  EXPECT_EQ(c.redacted, (std::vector<std::string>{"names", "note"}));
  ASSERT_EQ(c.records.size(), 1u);
  EXPECT_EQ(c.records[0], nlohmann::json({{"date", "2026-01-02"}}));
}

TEST(DiscloseTest, RecordsThatCannotBeRedactedFieldByFieldGoToTheCustodian) {
  const auto p = ParseOk(std::string(kHeader) + R"(
[[rule]]
id = "redacting"
effect = "permit"
max_level = 3
redact = ["names"]
)");
  const auto d = policy::Evaluate(p, Req("incidents", 3), kStart);
  for (const nlohmann::json& records :
       {nlohmann::json::array({"free text naming someone"}),
        nlohmann::json::array({{{"date", "2026-01-02"}, {"people", {{"names", "x"}}}}}),
        nlohmann::json::array({{{"date", "2026-01-02"}, {"names", {"x", "y"}}}})}) {
    CategoryRecords held = Held();
    held.records = records;
    const auto c = Disclose(p, d, "incidents", held);
    EXPECT_EQ(c.outcome, "review") << records.dump();
    EXPECT_TRUE(c.records.empty());
    EXPECT_TRUE(c.summary.empty());
    EXPECT_EQ(c.rule, "redacting");
  }
}

TEST(DiscloseTest, DenialSaysWhyAndWhichRule) {
  const auto p = ParseOk(std::string(kHeader) + R"(
[[rule]]
id = "no-arrests"
effect = "forbid"
description = "arrests are not shared"
categories = ["arrests"]
)");
  const auto forbidden =
      Disclose(p, policy::Evaluate(p, Req("arrests", 2), kStart), "arrests", Held());
  EXPECT_EQ(forbidden.outcome, "withheld");
  EXPECT_EQ(forbidden.rule, "no-arrests");
  EXPECT_THAT(forbidden.reason, HasSubstr("arrests are not shared"));
  EXPECT_TRUE(forbidden.summary.empty() && forbidden.records.empty());
  const auto by_default =
      Disclose(p, policy::Evaluate(p, Req("incidents", 2), kStart), "incidents", Held());
  EXPECT_EQ(by_default.rule, "default-deny");
  EXPECT_THAT(by_default.reason, HasSubstr("deny by default"));
  EXPECT_LE(by_default.reason.size(), 1000u);
}

class PolicyLoadTest : public AgentTest {
 protected:
  PolicySource Source(const std::filesystem::path& file,
                      std::vector<std::filesystem::path> trusted = {}) {
    PolicySource s;
    s.file = file;
    s.trusted_keys = std::move(trusted);
    return s;
  }
  std::filesystem::path WriteBundle(const policy::Bundle& b, const std::string& name) {
    const auto p = dir_ / name;
    WriteFile(p, b.ToJson());
    return p;
  }
};

TEST_F(PolicyLoadTest, UnsignedBundleOrTomlIsRefusedOnceKeysAreConfigured) {
  ASSERT_TRUE(crypto::GenerateKeyPairFiles(keys_, "dpo").ok());
  ASSERT_TRUE(crypto::GenerateKeyPairFiles(keys_, "other").ok());
  const std::vector<std::filesystem::path> trusted = {keys_ / "dpo.sign.pub"};
  const auto toml = ExamplePolicy("police-disclosure.toml");
  auto bundle = policy::MakeBundle(ReadFile(toml), "police-disclosure.toml");
  ASSERT_TRUE(bundle.ok());
  const auto unsigned_file = WriteBundle(*bundle, "unsigned.bundle.json");

  EXPECT_EQ(
      LoadDisclosurePolicies(Source(unsigned_file, trusted), "police", kStart).status().code(),
      StatusCode::kUnauthenticated);
  EXPECT_EQ(LoadDisclosurePolicies(Source(toml, trusted), "police", kStart).status().code(),
            StatusCode::kUnauthenticated);
  // Without keys, both load.
  EXPECT_TRUE(LoadDisclosurePolicies(Source(unsigned_file), "police", kStart).ok());
  EXPECT_TRUE(LoadDisclosurePolicies(Source(toml), "police", kStart).ok());

  auto other = crypto::LoadSigningKey(keys_ / "other.sign.key");
  auto dpo = crypto::LoadSigningKey(keys_ / "dpo.sign.key");
  ASSERT_TRUE(other.ok() && dpo.ok());
  policy::Bundle by_other = *bundle;
  policy::SignBundle(by_other, *other);
  EXPECT_EQ(LoadDisclosurePolicies(Source(WriteBundle(by_other, "other.bundle.json"), trusted),
                                   "police", kStart)
                .status()
                .code(),
            StatusCode::kUnauthenticated);
  policy::Bundle by_dpo = *bundle;
  policy::SignBundle(by_dpo, *dpo);
  auto loaded = LoadDisclosurePolicies(Source(WriteBundle(by_dpo, "dpo.bundle.json"), trusted),
                                       "police", kStart);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->enforced().version, bundle->version);

  // And through the Responder: the agent does not start on an unsigned bundle.
  auto config = Config();
  config.policy = Source(unsigned_file, trusted);
  EXPECT_EQ(Responder::Create(config, *clock_, random_).status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(PolicyLoadTest, PolicyOfAnotherAgencyTypeOrKindIsRefused) {
  auto health =
      LoadDisclosurePolicies(Source(ExamplePolicy("health-disclosure.toml")), "police", kStart);
  EXPECT_EQ(health.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(health.status().message(), HasSubstr("agency type 'health'"));
  auto agreement =
      LoadDisclosurePolicies(Source(ExamplePolicy("hub-agreement.toml")), "police", kStart);
  EXPECT_EQ(agreement.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(agreement.status().message(), HasSubstr("not a disclosure policy"));

  auto config = Config();
  config.policy.file = ExamplePolicy("health-disclosure.toml");
  EXPECT_EQ(Responder::Create(config, *clock_, random_).status().code(),
            StatusCode::kFailedPrecondition);
}

TEST_F(PolicyLoadTest, StoreGivesTheEnforcedAndShadowVersions) {
  PolicySource s;
  s.store = dir_ / "store";
  ASSERT_TRUE(policy::PolicyStore::Open(s.store, true).ok());
  // A store without an enforced version is not a policy.
  EXPECT_EQ(LoadDisclosurePolicies(s, "police", kStart).status().code(),
            StatusCode::kFailedPrecondition);
  auto store = policy::PolicyStore::Open(s.store, false);
  auto bundle = policy::MakeBundle(ReadFile(ExamplePolicy("police-disclosure.toml")), "p.toml");
  ASSERT_TRUE(bundle.ok());
  ASSERT_TRUE(store->Publish(*bundle, policy::PublishMode::kShadow, 10, {}).ok());
  EXPECT_EQ(LoadDisclosurePolicies(s, "police", kStart).status().code(),
            StatusCode::kFailedPrecondition);
  ASSERT_TRUE(store->Publish(*bundle, policy::PublishMode::kEnforce, 20, {}).ok());
  auto loaded = LoadDisclosurePolicies(s, "police", kStart);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ((*loaded)->enforced().version, bundle->version);
  EXPECT_EQ((*loaded)->shadow(), nullptr);  // enforcing the shadow version cleared it
  EXPECT_EQ(LoadDisclosurePolicies(s, "health", kStart).status().code(),
            StatusCode::kFailedPrecondition);
}

class AgentConfigTest : public AgentTest {
 protected:
  Result<AgentConfig> Load(const std::string& policy_and_audit) {
    const auto path = dir_ / "agent.toml";
    WriteFile(path, AgentTomlHead() + R"(
[records]
fixture = "police.json"
)" + policy_and_audit);
    return LoadAgentConfig(path);
  }
};

TEST_F(AgentConfigTest, ReadsPolicyAndAuditTables) {
  auto c = Load(R"(
[policy]
file = "police-disclosure.bundle.json"
trusted_keys = ["keys/dpo.sign.pub"]

[audit]
log_public_key = "keys/hub.audit.pub"
)");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->policy.file, dir_.path() / "police-disclosure.bundle.json");
  EXPECT_TRUE(c->policy.store.empty());
  EXPECT_EQ(c->policy.trusted_keys,
            std::vector<std::filesystem::path>{dir_.path() / "keys/dpo.sign.pub"});
  EXPECT_EQ(c->audit_log_public_key, dir_.path() / "keys/hub.audit.pub");
  auto store = Load("[policy]\nstore = \"policies\"\n[audit]\nlog_public_key = \"a.pub\"\n");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(store->policy.store, dir_.path() / "policies");
  EXPECT_TRUE(store->policy.trusted_keys.empty());
}

TEST_F(AgentConfigTest, PolicyAndAuditKeyAreRequired) {
  auto none = Load("[audit]\nlog_public_key = \"a.pub\"\n");
  ASSERT_FALSE(none.ok());
  EXPECT_THAT(none.status().message(), HasSubstr("[policy]"));
  auto both =
      Load("[policy]\nfile = \"p.toml\"\nstore = \"s\"\n[audit]\nlog_public_key = \"a.pub\"\n");
  ASSERT_FALSE(both.ok());
  EXPECT_THAT(both.status().message(), HasSubstr("exactly one of file and store"));
  EXPECT_THAT(both.status().message(), HasSubstr("agent.toml:"));
  auto no_audit = Load("[policy]\nfile = \"p.toml\"\n");
  ASSERT_FALSE(no_audit.ok());
  EXPECT_THAT(no_audit.status().message(), HasSubstr("audit.log_public_key"));
  auto typo =
      Load("[policy]\nfile = \"p.toml\"\ntrusted_key = [\"k\"]\n[audit]\nlog_public_key = \"a\"\n");
  ASSERT_FALSE(typo.ok());
  EXPECT_THAT(typo.status().message(), HasSubstr("trusted_key"));
}

}  // namespace
}  // namespace mash::agent::testing
