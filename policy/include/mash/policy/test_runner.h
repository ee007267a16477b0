// Policy tests and diffs (docs/policy.md, "Tests").
//
// A test file (NAME.tests.toml beside NAME.toml) holds [[case]] tables, each a request, an
// optional time and the expected decision. RunTests() evaluates each case and compares; coverage
// lists the rules no case matched.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "mash/policy/evaluator.h"
#include "mash/policy/policy.h"

namespace mash::policy {

struct Expectation {
  std::optional<Effect> effect;
  std::optional<int> level;
  std::optional<std::string> rule;                      // deciding rule ("" = default deny)
  std::optional<std::vector<std::string>> obligations;  // exact set
};

struct TestCase {
  std::string name;
  Request request;
  int64_t time_unix = 0;
  Expectation expect;
  SourcePosition position;
};

struct TestFileOutcome {
  std::vector<TestCase> cases;
  std::vector<Diagnostic> diagnostics;  // errors make the file unusable
  bool ok() const;
};

// Parses a test file. Request keys: role, purpose, lawful_basis, consent, override_ground,
// urgency, agency, category, level; [defaults] apply to every case; `at` is an offset date-time
// (default: `default_time`).
TestFileOutcome ParseTestFile(std::string_view text, std::string_view name, int64_t default_time);

// Parses a request table given as TOML text (the same keys, plus optional `at`).
Result<std::pair<Request, std::optional<int64_t>>> ParseRequestToml(std::string_view text,
                                                                    std::string_view name);

struct CaseResult {
  const TestCase* test = nullptr;
  Decision decision;
  bool passed = false;
  std::vector<std::string> failures;  // "expected effect permit, got deny", ...
};

struct TestReport {
  std::vector<CaseResult> results;
  int passed = 0;
  int failed = 0;
  std::vector<std::string> uncovered_rules;  // rules that no case matched, in file order
};

TestReport RunTests(const Policy& policy, const std::vector<TestCase>& cases);

// ---- diff ----
struct RuleChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind;
  std::string rule_id;
};
struct DecisionChange {
  std::string name;  // the case name or "request N"
  Decision before;
  Decision after;
};
struct PolicyDiff {
  std::vector<std::string> header_changes;  // top-level keys whose value changed
  std::vector<RuleChange> rules;
  std::vector<DecisionChange> decisions;
};
PolicyDiff DiffPolicies(const Policy& before, const Policy& after,
                        const std::vector<TestCase>& requests);

}  // namespace mash::policy
