#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "mash/policy/policy.h"
#include "mash/policy/time_text.h"

namespace mash::policy {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kAgreementHead[] = R"(kind = "sharing-agreement"
id = "a"
owner = "DPO"
review_date = 2027-01-01
purposes = ["child-protection-s47", "early-help"]
lawful_bases = ["uk-gdpr-6-1-e"]
[[party]]
id = "police"
type = "police"
)";  // 9 lines

constexpr char kDisclosureHead[] = R"(kind = "disclosure-policy"
id = "d"
owner = "DPO"
review_date = 2027-01-01
agency_type = "police"
)";  // 5 lines

std::vector<std::string> Lines(const ParseOutcome& out) {
  std::vector<std::string> v;
  for (const auto& d : out.diagnostics) v.push_back(d.ToString());
  return v;
}

// Parses `text` and expects exactly one error line equal to `expected`.
void ExpectError(const std::string& text, const std::string& expected) {
  const ParseOutcome out = ParsePolicy(text, "t.toml");
  EXPECT_FALSE(out.ok()) << text;
  EXPECT_THAT(Lines(out), Contains(expected)) << out.ToString();
}

TEST(PolicyParserTest, AcceptsMinimalAgreement) {
  const std::string text =
      std::string(kAgreementHead) + "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 2\n";
  const ParseOutcome out = ParsePolicy(text, "t.toml");
  ASSERT_TRUE(out.ok()) << out.ToString();
  EXPECT_TRUE(out.diagnostics.empty()) << out.ToString();
  EXPECT_EQ(out.policy->rules.size(), 1u);
  EXPECT_EQ(out.policy->version.substr(0, 7), "sha256:");
  EXPECT_EQ(out.policy->version.size(), 71u);
}

TEST(PolicyParserTest, ReportsSyntaxErrorWithPosition) {
  const ParseOutcome out = ParsePolicy("kind = \"x\"\nid = = 3\n", "t.toml");
  ASSERT_FALSE(out.ok());
  ASSERT_EQ(out.diagnostics.size(), 1u);
  EXPECT_EQ(out.diagnostics[0].position.line, 2);
  EXPECT_THAT(out.diagnostics[0].ToString(), HasSubstr("t.toml:2:"));
}

TEST(PolicyParserTest, ReportsBadKind) {
  ExpectError("kind = \"rules\"\nid = \"x\"\nowner = \"o\"\nreview_date = 2027-01-01\n",
              "t.toml:1:8: error: 'kind' must be \"sharing-agreement\" or \"disclosure-policy\", "
              "not \"rules\"");
}

TEST(PolicyParserTest, ReportsMissingRequiredKeys) {
  const ParseOutcome out = ParsePolicy("kind = \"disclosure-policy\"\n", "t.toml");
  EXPECT_THAT(Lines(out), Contains("t.toml:1:1: error: missing required key 'id'"));
  EXPECT_THAT(Lines(out), Contains("t.toml:1:1: error: missing required key 'owner'"));
  EXPECT_THAT(Lines(out), Contains("t.toml:1:1: error: missing required key 'review_date'"));
  EXPECT_THAT(Lines(out), Contains("t.toml:1:1: error: missing required key 'agency_type'"));
}

TEST(PolicyParserTest, ReportsUnknownTopLevelKey) {
  ExpectError(std::string(kDisclosureHead) + "colour = \"blue\"\n",
              "t.toml:6:1: error: unknown key 'colour' in a disclosure policy");
}

TEST(PolicyParserTest, ReportsUnknownRuleKey) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\nroles = [\"dpo\"]\n",
              "t.toml:10:1: error: unknown key 'roles' in a disclosure policy rule");
}

TEST(PolicyParserTest, ReportsWrongTypes) {
  ExpectError(
      std::string(kDisclosureHead) + "[[rule]]\nid = 7\neffect = \"permit\"\nmax_level = 1\n",
      "t.toml:7:6: error: 'id' must be a string");
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = \"2\"\n",
              "t.toml:9:13: error: 'max_level' must be an integer 0..3");
  ExpectError(
      std::string(kDisclosureHead) +
          "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\npurposes = \"marac\"\n",
      "t.toml:10:12: error: 'purposes' must be a list of strings");
}

TEST(PolicyParserTest, ReportsUnknownVocabularyAtTheElement) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "purposes = [\"marac\", \"gossip\"]\n",
              "t.toml:10:22: error: unknown purpose 'gossip' (known: child-protection-s47, "
              "child-in-need-s17, early-help, adult-safeguarding-s42, marac, mappa, "
              "missing-child)");
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "categories = [\"horoscopes\"]\n",
              "t.toml:10:15: error: unknown data category 'horoscopes'");
}

TEST(PolicyParserTest, ReportsCategoryOfAnotherAgencyType) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "categories = [\"mental_health\"]\n",
              "t.toml:10:15: error: category 'mental_health' is not a police category, so the "
              "rule can never match");
}

TEST(PolicyParserTest, ReportsEmptyList) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\nurgencies = []\n",
              "t.toml:10:13: error: 'urgencies' is empty, so the rule can never match (leave the "
              "key out to match any urgency)");
}

TEST(PolicyParserTest, ReportsDuplicateRuleId) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"forbid\"\n"
                  "[[rule]]\nid = \"r\"\neffect = \"forbid\"\n",
              "t.toml:10:6: error: duplicate rule id 'r' (first at line 6)");
}

TEST(PolicyParserTest, ReportsRuleIdsThatCannotTravel) {
  const std::string expected =
      "t.toml:7:6: error: rule id must be 1 to 64 characters of letters, digits, '.', '_' and "
      "'-', starting with a letter or digit";
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"" + std::string(65, 'r') +
                  "\"\neffect = \"forbid\"\n",
              expected);
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"no spaces\"\neffect = \"forbid\"\n",
              expected);
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"-x\"\neffect = \"forbid\"\n",
              expected);
}

TEST(PolicyParserTest, ReportsMinLevelAboveMaxLevel) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmin_level = 3\nmax_level = 2\n",
              "t.toml:9:13: error: rule 'r': min_level 3 is above max_level 2, so the rule can "
              "never grant what it matches");
}

TEST(PolicyParserTest, ReportsLevelOutOfRange) {
  ExpectError(
      std::string(kDisclosureHead) + "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 4\n",
      "t.toml:9:13: error: 'max_level' must be 0..3 (0 discovery, 1 involvement, 2 "
      "relevant summary, 3 specified records), not 4");
}

TEST(PolicyParserTest, ReportsMaxLevelOnForbidAndMissingMaxLevel) {
  ExpectError(
      std::string(kDisclosureHead) + "[[rule]]\nid = \"r\"\neffect = \"forbid\"\nmax_level = 1\n",
      "t.toml:9:13: error: 'max_level' has no meaning on a forbid rule (use min_level to "
      "forbid only higher levels)");
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"r\"\neffect = \"permit\"\n",
              "t.toml:6:1: error: missing required key 'max_level' in a permit rule (the highest "
              "level it releases)");
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"r\"\neffect = \"limit\"\n",
              "t.toml:6:1: error: missing required key 'max_level' in a limit rule");
}

TEST(PolicyParserTest, ReportsBadEffect) {
  ExpectError(std::string(kDisclosureHead) + "[[rule]]\nid = \"r\"\neffect = \"allow\"\n",
              "t.toml:8:10: error: 'effect' must be \"permit\", \"forbid\" or \"limit\", not "
              "\"allow\"");
}

TEST(PolicyParserTest, ReportsEmptyTimeWindow) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"forbid\"\nvalid_from = 2027-01-01T00:00:00Z\n"
                  "valid_until = 2026-01-01T00:00:00Z\n",
              "t.toml:10:15: error: rule 'r': valid_until is not after valid_from, so the rule "
              "can never apply");
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"forbid\"\nvalid_from = 2027-01-01T00:00:00\n",
              "t.toml:9:14: error: 'valid_from' needs a UTC offset, e.g. 2027-01-01T00:00:00Z");
}

TEST(PolicyParserTest, ReportsUnknownObligationAndBadRedaction) {
  ExpectError(std::string(kDisclosureHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"forbid\"\nobligations = [\"shred\"]\n",
              "t.toml:9:16: error: unknown obligation 'shred' (known: custodian_review, "
              "notify_custodian, second_approver, record_reason, redact:<field>)");
  ExpectError(
      std::string(kDisclosureHead) +
          "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\nredact = [\"Bad Field\"]\n",
      "t.toml:10:11: error: 'Bad Field' is not a field name ([a-z][a-z0-9_]*)");
  ExpectError(
      std::string(kDisclosureHead) +
          "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\nreview = \"maybe\"\n",
      "t.toml:10:10: error: 'review' must be \"automatic\" or \"custodian\", not \"maybe\"");
}

TEST(PolicyParserTest, AgreementChecksPartiesPurposesAndBases) {
  ExpectError(std::string(kAgreementHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "agencies = [\"health\"]\n",
              "t.toml:14:13: error: agency 'health' is not a party to the agreement");
  ExpectError(std::string(kAgreementHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "purposes = [\"marac\"]\n",
              "t.toml:14:13: error: purpose 'marac' is not among the agreement's purposes");
  ExpectError(std::string(kAgreementHead) +
                  "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                  "lawful_bases = [\"uk-gdpr-6-1-c\"]\n",
              "t.toml:14:17: error: lawful basis 'uk-gdpr-6-1-c' is not among the agreement's "
              "lawful bases");
  ExpectError(std::string(kAgreementHead) + "[[party]]\nid = \"police\"\ntype = \"army\"\n",
              "t.toml:11:6: error: duplicate party id 'police'");
  ExpectError(std::string(kAgreementHead) + "[[party]]\nid = \"police\"\ntype = \"army\"\n",
              "t.toml:12:8: error: unknown agency type 'army'");
}

TEST(PolicyParserTest, AgreementNeedsParties) {
  ExpectError(
      "kind = \"sharing-agreement\"\nid = \"a\"\nowner = \"o\"\nreview_date = 2027-01-01\n"
      "purposes = [\"marac\"]\nlawful_bases = [\"uk-gdpr-6-1-e\"]\n",
      "t.toml:1:1: error: a sharing agreement needs at least one [[party]]");
}

TEST(PolicyParserTest, OverridesRefuseNone) {
  ExpectError(std::string(kDisclosureHead) + "[overrides]\ngrounds = [\"none\"]\n",
              "t.toml:7:11: error: 'none' is not an override ground");
}

TEST(PolicyParserTest, WarnsAboutOverdueReviewAndExpiredRules) {
  ParseOptions options;
  options.now = *ParseTime("2027-02-01T00:00:00Z");
  const std::string text = std::string(kDisclosureHead) +
                           "[[rule]]\nid = \"r\"\neffect = \"forbid\"\n"
                           "valid_until = 2027-01-15T00:00:00Z\n";
  const ParseOutcome out = ParsePolicy(text, "t.toml", options);
  ASSERT_TRUE(out.ok()) << out.ToString();
  EXPECT_THAT(Lines(out), Contains("t.toml:4:15: warning: review date 2027-01-01 has passed: the "
                                   "policy is overdue for review"));
  EXPECT_THAT(Lines(out), Contains("t.toml:9:15: warning: rule 'r': expired on "
                                   "2027-01-15T00:00:00Z, so it no longer applies"));
  // Without a `now`, no time-dependent warnings: the parser reads no clock.
  EXPECT_TRUE(ParsePolicy(text, "t.toml").diagnostics.empty());
}

TEST(PolicyParserTest, ReportsEveryErrorSortedByPosition) {
  const std::string text = std::string(kDisclosureHead) +
                           "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 9\n"
                           "urgencies = [\"purple\"]\nbogus = 1\n";
  const ParseOutcome out = ParsePolicy(text, "t.toml");
  ASSERT_EQ(out.diagnostics.size(), 3u) << out.ToString();
  EXPECT_EQ(out.diagnostics[0].position.line, 9);
  EXPECT_EQ(out.diagnostics[1].position.line, 10);
  EXPECT_EQ(out.diagnostics[2].position.line, 11);
}

TEST(PolicyParserTest, VersionIgnoresCommentsWhitespaceAndSetOrder) {
  const std::string a = std::string(kDisclosureHead) +
                        "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 1\n"
                        "purposes = [\"marac\", \"early-help\"]\nreview = \"custodian\"\n";
  const std::string b = "# a comment\n" + std::string(kDisclosureHead) +
                        "\n\n[[rule]]   # rule\nmax_level = 1\nid = \"r\"\neffect = \"permit\"\n"
                        "purposes = [ \"early-help\" , \"marac\" ]\n"
                        "obligations = [\"custodian_review\"]\n";
  const std::string c = std::string(kDisclosureHead) +
                        "[[rule]]\nid = \"r\"\neffect = \"permit\"\nmax_level = 2\n"
                        "purposes = [\"marac\", \"early-help\"]\nreview = \"custodian\"\n";
  auto pa = ParsePolicyOrError(a, "a.toml");
  auto pb = ParsePolicyOrError(b, "b.toml");
  auto pc = ParsePolicyOrError(c, "c.toml");
  ASSERT_TRUE(pa.ok() && pb.ok() && pc.ok()) << pa.status().message() << pb.status().message();
  EXPECT_EQ(pa->version, pb->version);
  EXPECT_NE(pa->version, pc->version);
}

TEST(PolicyParserTest, RejectsOversizedInput) {
  const ParseOutcome out = ParsePolicy(std::string(kMaxPolicyBytes + 1, '#'), "t.toml");
  EXPECT_THAT(Lines(out), Contains("t.toml:1:1: error: policy file larger than 1 MiB"));
}

TEST(TimeTextTest, ParsesAndFormats) {
  EXPECT_EQ(ParseTime("1970-01-01"), 0);
  EXPECT_EQ(ParseTime("2026-11-22T10:00:00Z"), 1795341600);
  EXPECT_EQ(ParseTime("2026-11-22T11:00:00+01:00"), 1795341600);
  EXPECT_EQ(ParseTime("2026-11-22T10:00:00.250Z"), 1795341600);
  EXPECT_FALSE(ParseTime("2026-02-30"));
  EXPECT_FALSE(ParseTime("2026-11-22T10:00:00"));
  EXPECT_FALSE(ParseTime("yesterday"));
  EXPECT_EQ(FormatTime(1795341600), "2026-11-22T10:00:00Z");
}

}  // namespace
}  // namespace mash::policy
