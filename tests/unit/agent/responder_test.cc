// The Responder answers under the agency's disclosure policy: each held category is shared,
// redacted, sent to the custodian or withheld, with the deciding rule and reason; content follows
// the granted level; the policy version is in the body and the header; shadow differences are
// logged and recorded; every answer lands in the disclosure log.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "agent_test_util.h"
#include "mash/common/log.h"
#include "mash/policy/bundle.h"
#include "mash/policy/store.h"

namespace mash::agent::testing {
namespace {

using ::testing::HasSubstr;

class ResponderTest : public AgentTest {};

std::string PoliceVersion() {
  auto parsed = policy::ParsePolicyFile(ExamplePolicy("police-disclosure.toml"));
  EXPECT_TRUE(parsed.ok()) << parsed.ToString();
  return parsed.policy->version;
}

TEST_F(ResponderTest, RedactsAndSendsToTheCustodianUnderTheEnforcedRules) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const auto a = Ask(*r, 2);  // s47, public task, consent given, amber
  ASSERT_TRUE(a.body.held);

  // safeguarding-core permits up to level 2 and redacts third-party names.
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "redacted");
  EXPECT_EQ(da->rule, "safeguarding-core");
  EXPECT_EQ(da->level, 2);
  EXPECT_EQ(da->redacted, std::vector<std::string>{"third_party_names"});
  EXPECT_FALSE(da->summary.empty());
  EXPECT_EQ(da->latest, "2026-10-30");
  EXPECT_TRUE(da->records.empty());

  // Intelligence is permitted (intelligence-urgent) but never leaves without a custodian.
  const auto* intel = Find(a.body, "intelligence");
  ASSERT_NE(intel, nullptr);
  EXPECT_EQ(intel->outcome, "review");
  EXPECT_EQ(intel->rule, "intelligence-urgent");
  EXPECT_THAT(intel->reason, HasSubstr("custodian"));
  EXPECT_TRUE(intel->summary.empty());
  EXPECT_TRUE(intel->latest.empty());
  EXPECT_EQ(intel->level, -1);
}

TEST_F(ResponderTest, SharesAtTheGrantedLevelAndWithholdsWithTheForbiddingRule) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why why;
  why.purpose = "early-help";
  const auto a = Ask(*r, 3, why);  // asks for records

  // early-help-consent grants level 1: the summary only, though level 3 was asked for.
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "shared");
  EXPECT_EQ(da->rule, "early-help-consent");
  EXPECT_EQ(da->level, 1);
  EXPECT_FALSE(da->summary.empty());
  EXPECT_TRUE(da->latest.empty());
  EXPECT_TRUE(da->records.empty());
  EXPECT_TRUE(da->redacted.empty());

  const auto* intel = Find(a.body, "intelligence");
  ASSERT_NE(intel, nullptr);
  EXPECT_EQ(intel->outcome, "withheld");
  EXPECT_EQ(intel->rule, "no-intelligence-for-support");
  EXPECT_THAT(intel->reason, HasSubstr("forbidden by rule 'no-intelligence-for-support'"));
  EXPECT_TRUE(intel->summary.empty());
  EXPECT_EQ(intel->level, -1);
}

TEST_F(ResponderTest, WithholdsByDefaultWhenNoRulePermits) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why why;
  why.purpose = "mappa";
  const auto a = Ask(*r, 2, why);
  ASSERT_FALSE(a.body.categories.empty());
  for (const auto& c : a.body.categories) {
    EXPECT_EQ(c.outcome, "withheld") << c.category;
    EXPECT_EQ(c.rule, "default-deny") << c.category;
    EXPECT_THAT(c.reason, HasSubstr("deny by default")) << c.category;
    EXPECT_TRUE(c.summary.empty());
  }
}

TEST_F(ResponderTest, GrantedLevelCapsContentBelowTheLevelAsked) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  // Level 3 asked; safeguarding-core allows 2 at amber (records need red and a custodian).
  const auto amber = Ask(*r, 3);
  const auto* da = Find(amber.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->level, 2);
  EXPECT_TRUE(da->records.empty());
  // Red: core-records-red allows records, but only through the custodian.
  Why red;
  red.urgency = "red";
  const auto red_answer = Ask(*r, 3, red);
  const auto* red_da = Find(red_answer.body, "domestic_abuse");
  ASSERT_NE(red_da, nullptr);
  EXPECT_EQ(red_da->outcome, "review");
  EXPECT_EQ(red_da->rule, "core-records-red");
  EXPECT_TRUE(red_da->records.empty());
}

TEST_F(ResponderTest, RedactionRemovesTheFieldsFromEveryRecord) {
  // A policy that releases domestic abuse records automatically, without third-party names.
  const auto policy_file = dir_ / "records-policy.toml";
  WriteFile(policy_file, R"(kind = "disclosure-policy"
id = "test-records"
title = "records with redaction"
owner = "test"
review_date = 2027-12-31
agency_type = "police"

[[rule]]
id = "records-redacted"
effect = "permit"
categories = ["domestic_abuse"]
max_level = 3
redact = ["third_party_names"]
)");
  auto config = Config();
  config.policy.file = policy_file;
  auto r = MakeResponder(config);
  ASSERT_TRUE(r);
  const auto a = Ask(*r, 3, {}, {"domestic_abuse"});
  ASSERT_EQ(a.body.categories.size(), 1u);
  const auto& c = a.body.categories[0];
  EXPECT_EQ(c.outcome, "redacted");
  EXPECT_EQ(c.level, 3);
  EXPECT_EQ(c.redacted, std::vector<std::string>{"third_party_names"});
  ASSERT_EQ(c.records.size(), 2u);
  for (const auto& rec : c.records) {
    EXPECT_FALSE(rec.contains("third_party_names")) << rec.dump();
    EXPECT_TRUE(rec.contains("date"));
    EXPECT_EQ(rec["type"], "domestic incident");
  }
  // The fixture does hold the field: the redaction did something.
  EXPECT_THAT(ReadFile(ExampleRecords("police")), HasSubstr("third_party_names"));
}

TEST_F(ResponderTest, PolicyVersionIsInTheBodyAndTheHeader) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const std::string version = PoliceVersion();
  ASSERT_EQ(version.rfind("sha256:", 0), 0u);
  EXPECT_EQ(r->policies().enforced().version, version);
  for (int level : {0, 2}) {
    const auto a = Ask(*r, level);
    EXPECT_EQ(a.body.policy_version, version);
    EXPECT_EQ(a.header.policy_hash, version);
  }
}

TEST_F(ResponderTest, DiscoverySaysOnlyHeldOrNotHeld) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  const auto a = Ask(*r, 0);
  EXPECT_TRUE(a.body.held);
  EXPECT_TRUE(a.body.categories.empty());
  auto none = r->Answer(Query(2, {}, {}, "4010232137"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(OpenAnswer(*none).body.held);
}

TEST_F(ResponderTest, ConsentTagDecidesTheRefusedConsentRule) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why refused;
  refused.consent = "refused";
  for (const auto& c : Ask(*r, 2, refused).body.categories) {
    EXPECT_EQ(c.outcome, "withheld") << c.category;
    EXPECT_EQ(c.rule, "refused-without-override") << c.category;
  }
  // With a ground the police policy accepts, the forbid no longer applies; [overrides] adds
  // notify_custodian and record_reason.
  Why overridden;
  overridden.consent = "refused;override:child_significant_harm";
  const auto answer = Ask(*r, 2, overridden);
  const auto* da = Find(answer.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->outcome, "redacted");
  EXPECT_EQ(da->rule, "safeguarding-core");

  // A consent field in the old or a garbled form is refused, not guessed at.
  for (const std::string bad : {"override:child_significant_harm", "", "maybe",
                                "refused;override:because", "refused ;override:serious_crime"}) {
    Why why;
    why.consent = bad;
    auto refused_answer = r->Answer(Query(2, why));
    EXPECT_EQ(refused_answer.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

TEST_F(ResponderTest, EveryAnswerIsInTheDisclosureLog) {
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why why;
  why.consent = "not_sought;override:child_significant_harm";
  const auto a = Ask(*r, 2, why);
  auto rows = r->disclosure_log().RecentAnswers(10);
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  const auto& row = (*rows)[0];
  EXPECT_EQ(row.time, kStart);
  EXPECT_EQ(row.check_ref, a.header.check_ref);
  EXPECT_EQ(row.answer_id, a.header.id);
  EXPECT_EQ(row.answer_hash, a.hash_hex);
  EXPECT_EQ(row.purpose, "child-protection-s47");
  EXPECT_EQ(row.lawful_basis, "uk-gdpr-6-1-e");
  EXPECT_EQ(row.consent, "not_sought;override:child_significant_harm");
  EXPECT_EQ(row.policy_version, PoliceVersion());
  EXPECT_EQ(row.level, 2);
  EXPECT_TRUE(row.held);
  EXPECT_TRUE(row.shadow.is_null());
  ASSERT_EQ(row.categories.size(), a.body.categories.size());
  for (const auto& c : row.categories) {
    const auto* sent = Find(a.body, c["category"]);
    ASSERT_NE(sent, nullptr);
    EXPECT_EQ(c["outcome"], sent->outcome);
    EXPECT_EQ(c["rule"], sent->rule);
    // Decisions only: no summary, dates or records.
    EXPECT_FALSE(c.contains("summary"));
    EXPECT_FALSE(c.contains("records"));
  }
  // The log survives a restart.
  r.reset();
  auto again = MakeResponder();
  ASSERT_TRUE(again);
  auto found = again->disclosure_log().FindAnswer(a.header.id);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->answer_hash, a.hash_hex);
}

TEST_F(ResponderTest, ShadowDifferencesAreLoggedAndRecordedButNotActedOn) {
  const std::string enforced_text = ReadFile(ExamplePolicy("police-disclosure.toml"));
  // The shadow version would cut safeguarding-core to involvement only.
  std::string shadow_text = enforced_text;
  const std::string from =
      "categories = [\"incidents\", \"domestic_abuse\", \"missing_episodes\", "
      "\"warning_markers\"]\nmax_level = 2";
  const auto at = shadow_text.find(from);
  ASSERT_NE(at, std::string::npos);
  shadow_text.replace(at, from.size(),
                      "categories = [\"incidents\", \"domestic_abuse\", \"missing_episodes\", "
                      "\"warning_markers\"]\nmax_level = 1");
  auto enforced = policy::MakeBundle(enforced_text, "police-disclosure.toml");
  auto shadow = policy::MakeBundle(shadow_text, "police-disclosure.toml");
  ASSERT_TRUE(enforced.ok() && shadow.ok());
  auto store = policy::PolicyStore::Open(dir_ / "store", true);
  ASSERT_TRUE(store.ok());
  ASSERT_TRUE(store->Publish(*enforced, policy::PublishMode::kEnforce, kStart - 100, {}).ok());
  ASSERT_TRUE(store->Publish(*shadow, policy::PublishMode::kShadow, kStart - 50, {}).ok());

  LogCapture capture;
  auto config = Config();
  config.policy.file.clear();
  config.policy.store = dir_ / "store";
  auto r = MakeResponder(config);
  ASSERT_TRUE(r);
  ASSERT_NE(r->policies().shadow(), nullptr);
  const auto a = Ask(*r, 3);
  // Acted on: the enforced version.
  EXPECT_EQ(a.body.policy_version, enforced->version);
  const auto* da = Find(a.body, "domestic_abuse");
  ASSERT_NE(da, nullptr);
  EXPECT_EQ(da->level, 2);

  auto rows = r->disclosure_log().RecentAnswers(1);
  ASSERT_TRUE(rows.ok() && rows->size() == 1u);
  EXPECT_EQ((*rows)[0].shadow_version, shadow->version);
  const auto& diffs = (*rows)[0].shadow;
  ASSERT_TRUE(diffs.is_array());
  bool saw = false;
  for (const auto& d : diffs) {
    if (d["category"] != "domestic_abuse") continue;
    saw = true;
    EXPECT_EQ(d["enforced"]["level"], 2);
    EXPECT_EQ(d["shadow"]["level"], 1);
    EXPECT_EQ(d["shadow"]["rule"], "safeguarding-core");
  }
  EXPECT_TRUE(saw) << diffs.dump();

  const std::string logs = capture.Text();
  EXPECT_THAT(logs, HasSubstr("\"event\":\"policy.shadow_differs\""));
  EXPECT_THAT(logs, HasSubstr("\"category\":\"domestic_abuse\""));
  // Never the records: no summary text, record fields or identifiers in the log.
  for (const std::string secret :
       {"Two domestic abuse incidents", "domestic incident", "Sam Example", "9434765919"}) {
    EXPECT_EQ(logs.find(secret), std::string::npos) << secret;
  }
}

TEST_F(ResponderTest, NotifyCustodianObligationIsALogLine) {
  LogCapture capture;
  auto r = MakeResponder();
  ASSERT_TRUE(r);
  Why why;
  why.consent = "not_sought;override:child_significant_harm";  // [overrides] adds notify
  const auto a = Ask(*r, 2, why);
  const std::string logs = capture.Text();
  EXPECT_THAT(logs, HasSubstr("\"event\":\"custodian.notify\""));
  EXPECT_THAT(logs, HasSubstr(a.header.check_ref));
}

}  // namespace
}  // namespace mash::agent::testing
