#include "mash/policy/evaluator.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "mash/policy/time_text.h"

namespace mash::policy {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr char kHead[] = R"(kind = "disclosure-policy"
id = "d"
owner = "DPO"
review_date = 2027-01-01
agency_type = "police"
)";

const int64_t kNow = *ParseTime("2026-11-22T10:00:00Z");

Policy Make(const std::string& rules, const std::string& extra = "") {
  auto p = ParsePolicyOrError(std::string(kHead) + extra + rules, "t.toml");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? *p : Policy{};
}

Request Req(std::string category = "incidents", int level = 2) {
  Request r;
  r.purpose = "child-protection-s47";
  r.lawful_basis = "uk-gdpr-6-1-e";
  r.consent_state = "given";
  r.urgency = "amber";
  r.category = std::move(category);
  r.level = level;
  return r;
}

TEST(EvaluatorTest, DeniesByDefaultWithAReason) {
  const Policy p = Make("");
  const Decision d = Evaluate(p, Req(), kNow);
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.level, -1);
  EXPECT_EQ(d.deciding_rule, "");
  EXPECT_THAT(d.matching_rules, IsEmpty());
  ASSERT_FALSE(d.reasons.empty());
  EXPECT_THAT(d.reasons.back(), HasSubstr("(deny by default)"));
  EXPECT_THAT(d.reasons.back(), HasSubstr("category 'incidents'"));
  EXPECT_EQ(d.policy_version, p.version);
}

TEST(EvaluatorTest, DeniesByDefaultWhenNoRuleMatches) {
  const Policy p = Make(R"([[rule]]
id = "marac-only"
effect = "permit"
purposes = ["marac"]
max_level = 2
)");
  const Decision d = Evaluate(p, Req(), kNow, EvaluateOptions{true});
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_THAT(d.reasons,
              testing::Contains("rule 'marac-only' does not match: purpose 'child-protection-s47' "
                                "is not one of marac"));
}

TEST(EvaluatorTest, PermitsAndCapsTheLevel) {
  const Policy p = Make(R"([[rule]]
id = "p"
effect = "permit"
categories = ["incidents"]
max_level = 1
)");
  const Decision d = Evaluate(p, Req("incidents", 3), kNow);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_EQ(d.level, 1);
  EXPECT_EQ(d.deciding_rule, "p");
  EXPECT_THAT(d.reasons[0], HasSubstr("permitted by rule 'p'"));
  EXPECT_EQ(Evaluate(p, Req("incidents", 0), kNow).level, 0);
}

TEST(EvaluatorTest, ForbidBeatsPermitWhateverTheOrder) {
  for (bool forbid_first : {true, false}) {
    const std::string permit = "[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 3\n";
    const std::string forbid =
        "[[rule]]\nid = \"f\"\neffect = \"forbid\"\ncategories = [\"incidents\"]\n"
        "obligations = [\"record_reason\"]\n";
    const Policy p = Make(forbid_first ? forbid + permit : permit + forbid);
    const Decision d = Evaluate(p, Req(), kNow);
    EXPECT_EQ(d.effect, Effect::kDeny);
    EXPECT_EQ(d.deciding_rule, "f");
    EXPECT_EQ(d.matching_rules.size(), 2u);
    EXPECT_THAT(d.obligations, ElementsAre("record_reason"));
    EXPECT_THAT(d.reasons, testing::Contains(HasSubstr("a forbid beats any permit")));
    // Another category is not forbidden.
    EXPECT_EQ(Evaluate(p, Req("arrests"), kNow).effect, Effect::kPermit);
  }
}

TEST(EvaluatorTest, ForbidWithMinLevelForbidsOnlyHigherLevels) {
  const Policy p = Make(R"([[rule]]
id = "p"
effect = "permit"
max_level = 3
[[rule]]
id = "no-records"
effect = "forbid"
min_level = 3
)");
  EXPECT_EQ(Evaluate(p, Req("incidents", 2), kNow).effect, Effect::kPermit);
  EXPECT_EQ(Evaluate(p, Req("incidents", 3), kNow).effect, Effect::kDeny);
}

TEST(EvaluatorTest, MergesObligationsOfAllMatchingRulesInAFixedOrder) {
  const Policy p = Make(R"([[rule]]
id = "a"
effect = "permit"
max_level = 2
redact = ["zeta", "alpha"]
obligations = ["record_reason"]
[[rule]]
id = "b"
effect = "permit"
max_level = 1
review = "custodian"
obligations = ["record_reason", "second_approver", "notify_custodian"]
[[rule]]
id = "other"
effect = "permit"
max_level = 3
categories = ["arrests"]
obligations = ["second_approver"]
)");
  const Decision d = Evaluate(p, Req(), kNow);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_EQ(d.deciding_rule, "a");
  EXPECT_EQ(d.level, 2);
  EXPECT_THAT(d.matching_rules, ElementsAre("a", "b"));
  EXPECT_THAT(d.obligations, ElementsAre("second_approver", "custodian_review", "notify_custodian",
                                         "record_reason", "redact:alpha", "redact:zeta"));
}

TEST(EvaluatorTest, HighestPermitWinsAndLimitsCap) {
  const Policy p = Make(R"([[rule]]
id = "low"
effect = "permit"
max_level = 1
[[rule]]
id = "high"
effect = "permit"
urgencies = ["red"]
max_level = 3
[[rule]]
id = "lim"
effect = "limit"
consent_states = ["not_sought"]
max_level = 0
)");
  Request r = Req("incidents", 3);
  EXPECT_EQ(Evaluate(p, r, kNow).level, 1);
  r.urgency = "red";
  Decision d = Evaluate(p, r, kNow);
  EXPECT_EQ(d.level, 3);
  EXPECT_EQ(d.deciding_rule, "high");
  r.consent_state = "not_sought";
  d = Evaluate(p, r, kNow);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_EQ(d.level, 0);
  EXPECT_THAT(d.reasons, testing::Contains(HasSubstr("limited to level 0 by rule 'lim'")));
}

TEST(EvaluatorTest, LimitAloneDoesNotPermit) {
  const Policy p = Make("[[rule]]\nid = \"lim\"\neffect = \"limit\"\nmax_level = 1\n");
  EXPECT_EQ(Evaluate(p, Req(), kNow).effect, Effect::kDeny);
}

TEST(EvaluatorTest, RespectsTimeBounds) {
  const Policy p = Make(R"([[rule]]
id = "window"
effect = "permit"
max_level = 2
valid_from = 2026-11-01T00:00:00Z
valid_until = 2026-12-01T00:00:00Z
)");
  EXPECT_EQ(Evaluate(p, Req(), *ParseTime("2026-10-31T23:59:59Z")).effect, Effect::kDeny);
  EXPECT_EQ(Evaluate(p, Req(), *ParseTime("2026-11-01T00:00:00Z")).effect, Effect::kPermit);
  EXPECT_EQ(Evaluate(p, Req(), *ParseTime("2026-11-30T23:59:59Z")).effect, Effect::kPermit);
  EXPECT_EQ(Evaluate(p, Req(), *ParseTime("2026-12-01T00:00:00Z")).effect, Effect::kDeny);
}

TEST(EvaluatorTest, NoneMatchesOnlyRequestsWithoutAnOverrideGround) {
  const Policy p = Make(R"([[rule]]
id = "p"
effect = "permit"
max_level = 2
[[rule]]
id = "refused"
effect = "forbid"
consent_states = ["refused"]
override_grounds = ["none"]
)");
  Request r = Req();
  r.consent_state = "refused";
  EXPECT_EQ(Evaluate(p, r, kNow).deciding_rule, "refused");
  r.override_ground = "child_significant_harm";
  EXPECT_EQ(Evaluate(p, r, kNow).effect, Effect::kPermit);
}

TEST(EvaluatorTest, OverridesTableRefusesUnlistedGroundsAndAddsObligations) {
  const Policy p = Make("[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n",
                        "[overrides]\ngrounds = [\"child_significant_harm\"]\n"
                        "obligations = [\"second_approver\", \"record_reason\"]\n");
  Request r = Req();
  r.consent_state = "not_sought";
  r.override_ground = "serious_crime";
  Decision d = Evaluate(p, r, kNow);
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_EQ(d.deciding_rule, "overrides");
  r.override_ground = "child_significant_harm";
  d = Evaluate(p, r, kNow);
  EXPECT_EQ(d.effect, Effect::kPermit);
  EXPECT_THAT(d.obligations, ElementsAre("second_approver", "record_reason"));
  EXPECT_THAT(Evaluate(p, Req(), kNow).obligations, IsEmpty());
}

TEST(EvaluatorTest, NeverWithoutCustodianAddsReview) {
  const Policy p = Make("[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n",
                        "never_without_custodian = [\"intelligence\"]\n");
  EXPECT_THAT(Evaluate(p, Req("intelligence"), kNow).obligations, ElementsAre("custodian_review"));
  EXPECT_THAT(Evaluate(p, Req("incidents"), kNow).obligations, IsEmpty());
}

TEST(EvaluatorTest, UnknownOrMissingValuesMatchOnlyUnconstrainedConditions) {
  const Policy p = Make(
      "[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n"
      "purposes = [\"child-protection-s47\"]\n");
  Request r = Req();
  r.purpose = "curiosity";
  const Decision d = Evaluate(p, r, kNow);
  EXPECT_EQ(d.effect, Effect::kDeny);
  EXPECT_THAT(d.reasons, testing::Contains("unknown purpose 'curiosity'"));
  r.purpose.clear();
  EXPECT_EQ(Evaluate(p, r, kNow).effect, Effect::kDeny);
}

TEST(EvaluatorTest, RefusesLevelsOutsideTheScale) {
  const Policy p = Make("[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n");
  EXPECT_EQ(Evaluate(p, Req("incidents", 4), kNow).effect, Effect::kDeny);
  EXPECT_EQ(Evaluate(p, Req("incidents", -1), kNow).effect, Effect::kDeny);
}

TEST(EvaluatorTest, IsDeterministic) {
  const Policy p = Make(R"([[rule]]
id = "a"
effect = "permit"
max_level = 2
redact = ["b", "a"]
)");
  const Decision x = Evaluate(p, Req(), kNow);
  const Decision y = Evaluate(p, Req(), kNow);
  EXPECT_EQ(x.obligations, y.obligations);
  EXPECT_EQ(x.reasons, y.reasons);
  EXPECT_FALSE(DecisionsDiffer(x, y));
}

TEST(PolicySetTest, ReportsWhereShadowDiffers) {
  auto enforced = std::make_shared<const Policy>(
      Make("[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n"));
  auto shadow = std::make_shared<const Policy>(
      Make("[[rule]]\nid = \"p\"\neffect = \"permit\"\nmax_level = 2\n"
           "[[rule]]\nid = \"f\"\neffect = \"forbid\"\ncategories = [\"arrests\"]\n"));
  const PolicySet only(enforced);
  EXPECT_FALSE(only.EvaluateBoth(Req(), kNow).shadow.has_value());
  const PolicySet set(enforced, shadow);
  auto same = set.EvaluateBoth(Req("incidents"), kNow);
  EXPECT_FALSE(same.differs);
  auto differs = set.EvaluateBoth(Req("arrests"), kNow);
  EXPECT_TRUE(differs.differs);
  EXPECT_EQ(differs.enforced.effect, Effect::kPermit);
  ASSERT_TRUE(differs.shadow.has_value());
  EXPECT_EQ(differs.shadow->effect, Effect::kDeny);
  EXPECT_EQ(differs.shadow->policy_version, shadow->version);
}

TEST(EvaluatorTest, FormatDecisionPrintsWhatExplainShows) {
  Decision permit;
  permit.effect = Effect::kPermit;
  permit.level = 2;
  permit.deciding_rule = "s47";
  permit.matching_rules = {"s47", "cap"};
  permit.obligations = {"record_reason"};
  permit.reasons = {"permitted by rule 's47'", "capped by 'cap'"};
  permit.policy_version = "sha256:ab";
  EXPECT_EQ(FormatDecision(permit),
            "permit at level 2  (deciding rule: s47)\n"
            "matching rules: s47, cap\n"
            "obligations:    record_reason\n"
            "reasons:\n"
            "  - permitted by rule 's47'\n"
            "  - capped by 'cap'\n"
            "policy version: sha256:ab\n");
  Decision deny;
  deny.policy_version = "sha256:cd";
  deny.reasons = {"no rule permits"};
  EXPECT_EQ(FormatDecision(deny),
            "deny  (deciding rule: none, deny by default)\n"
            "matching rules: -\n"
            "obligations:    -\n"
            "reasons:\n"
            "  - no rule permits\n"
            "policy version: sha256:cd\n");
}

}  // namespace
}  // namespace mash::policy
