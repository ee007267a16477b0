// The example policies in examples/policies/ parse cleanly and pass their own tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "mash/policy/bundle.h"
#include "mash/policy/test_runner.h"
#include "mash/policy/time_text.h"

namespace mash::policy {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> ExamplePolicies() {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(fs::path(MASH_SOURCE_DIR) / "examples/policies")) {
    const std::string name = e.path().filename().string();
    if (e.path().extension() == ".toml" && name.find(".tests.") == std::string::npos) {
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(ExamplePoliciesTest, OneAgreementAndADisclosurePolicyPerAgencyType) {
  int agreements = 0;
  std::set<std::string> types;
  for (const auto& path : ExamplePolicies()) {
    const ParseOutcome out = ParsePolicyFile(path);
    ASSERT_TRUE(out.ok()) << out.ToString();
    EXPECT_TRUE(out.diagnostics.empty()) << out.ToString();
    if (out.policy->kind == PolicyKind::kSharingAgreement) {
      ++agreements;
      EXPECT_EQ(out.policy->parties.size(), 6u);
    } else {
      types.insert(out.policy->agency_type);
    }
  }
  EXPECT_EQ(agreements, 1);
  EXPECT_EQ(types.size(), Vocabulary::Builtin().agency_types().size());
}

TEST(ExamplePoliciesTest, PassTheirOwnTestsAndCoverEveryRule) {
  for (const auto& path : ExamplePolicies()) {
    SCOPED_TRACE(path.string());
    const ParseOutcome out = ParsePolicyFile(path);
    ASSERT_TRUE(out.ok()) << out.ToString();
    fs::path tests = path;
    tests.replace_extension(".tests.toml");
    auto text = ReadSmallFile(tests, 1 << 20);
    ASSERT_TRUE(text.ok()) << text.status().message();
    const TestFileOutcome cases = ParseTestFile(*text, tests.string(), 0);
    ASSERT_TRUE(cases.ok());
    ASSERT_FALSE(cases.cases.empty());
    const TestReport report = RunTests(*out.policy, cases.cases);
    for (const auto& r : report.results) {
      for (const auto& f : r.failures) ADD_FAILURE() << r.test->name << ": " << f;
    }
    EXPECT_EQ(report.failed, 0);
    for (const auto& id : report.uncovered_rules) ADD_FAILURE() << "no test covers rule " << id;
  }
}

TEST(ExamplePoliciesTest, AFailingExpectationIsReported) {
  const auto path = fs::path(MASH_SOURCE_DIR) / "examples/policies/hub-agreement.toml";
  const ParseOutcome out = ParsePolicyFile(path);
  ASSERT_TRUE(out.ok());
  const TestFileOutcome cases = ParseTestFile(R"([[case]]
name = "wrong on purpose"
request = { role = "practitioner", purpose = "early-help", agency = "police", consent = "given" }
expect = { effect = "permit", level = 3, rule = "x", obligations = ["record_reason"] }
)",
                                              "t.toml", *ParseTime("2026-11-22"));
  ASSERT_TRUE(cases.ok());
  const TestReport report = RunTests(*out.policy, cases.cases);
  EXPECT_EQ(report.failed, 1);
  EXPECT_EQ(report.results[0].failures.size(), 4u);
}

TEST(TestFileTest, ReportsErrorsWithPositions) {
  const TestFileOutcome out = ParseTestFile(
      "[[case]]\nname = \"x\"\nrequest = { colour = \"red\" }\nexpect = { effect = \"maybe\" }\n",
      "t.tests.toml", 0);
  EXPECT_FALSE(out.ok());
  ASSERT_EQ(out.diagnostics.size(), 2u);
  EXPECT_EQ(out.diagnostics[0].ToString(),
            "t.tests.toml:3:13: error: unknown request key 'colour'");
  EXPECT_EQ(out.diagnostics[1].ToString(),
            "t.tests.toml:4:21: error: 'effect' must be \"permit\" or \"deny\"");
}

TEST(DiffTest, ReportsChangedRulesAndDecisions) {
  const auto path = fs::path(MASH_SOURCE_DIR) / "examples/policies/hub-agreement.toml";
  auto text = ReadSmallFile(path, 1 << 20);
  ASSERT_TRUE(text.ok());
  std::string changed = *text;
  changed.replace(changed.find("id = \"marac\""), 12, "id = \"marac-renamed\"");
  auto before = ParsePolicyOrError(*text, "a");
  auto after = ParsePolicyOrError(changed, "b");
  ASSERT_TRUE(before.ok() && after.ok()) << after.status().message();
  TestCase tc;
  tc.name = "marac";
  tc.request.role = "practitioner";
  tc.request.purpose = "marac";
  tc.request.lawful_basis = "uk-gdpr-6-1-e";
  tc.request.consent_state = "given";
  tc.request.urgency = "amber";
  tc.request.agency = "police";
  tc.request.level = 2;
  tc.time_unix = *ParseTime("2026-11-22");
  const PolicyDiff diff = DiffPolicies(*before, *after, {tc});
  ASSERT_EQ(diff.rules.size(), 2u);
  EXPECT_EQ(diff.rules[0].kind, RuleChange::Kind::kRemoved);
  EXPECT_EQ(diff.rules[1].kind, RuleChange::Kind::kAdded);
  ASSERT_EQ(diff.decisions.size(), 1u);  // same effect, another deciding rule
  EXPECT_TRUE(DiffPolicies(*before, *before, {tc}).rules.empty());
}

}  // namespace
}  // namespace mash::policy
