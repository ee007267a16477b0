// The policy model and its parser (DESIGN §7; file format in docs/policy.md).
//
// Two kinds of policy share one model and one engine:
//   - a sharing agreement (the hub's): who may ask which agencies what, for which purpose;
//   - an agency disclosure policy (each agent's): which data categories are released, how far,
//     with which obligations.
// A policy is a list of rules, each with conditions over the request (sets of vocabulary ids,
// a level range, a time window), an effect (permit, forbid or limit) and obligations.
//
// ParsePolicy() reads TOML, checks structure (types, required and unknown keys) and meaning
// (unknown vocabulary ids, rules that can never match, duplicate ids, overdue review date) and
// reports every problem as "file:line:col: message", sorted by position.
//
// Thread safety: a Policy is an immutable value once parsed; share it freely between threads.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"
#include "mash/policy/vocabulary.h"

namespace mash::policy {

enum class PolicyKind { kSharingAgreement, kDisclosurePolicy };
std::string_view PolicyKindName(PolicyKind k);  // "sharing-agreement" / "disclosure-policy"

enum class RuleEffect { kPermit, kForbid, kLimit };
std::string_view RuleEffectName(RuleEffect e);  // "permit" / "forbid" / "limit"

struct SourcePosition {
  std::string file;
  int line = 0;
  int column = 0;
  std::string ToString() const;  // "file:line:col"
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  SourcePosition position;
  std::string message;
  // "file:line:col: error: message" (or "warning:").
  std::string ToString() const;
};

// A set condition: matches any value when `any`; otherwise a value whose index is in `mask`.
// `values` are the ids as written, sorted and deduplicated (for the canonical form and reasons).
struct Condition {
  bool any = true;
  uint64_t mask = 0;
  std::vector<std::string> values;
};

// Bit used in an override_grounds condition for "no override ground given" (the id "none").
inline constexpr uint64_t kNoneBit = uint64_t{1} << 63;

struct Rule {
  std::string id;
  std::string description;
  RuleEffect effect = RuleEffect::kPermit;
  Condition roles, purposes, lawful_bases, consent_states, override_grounds, urgencies, agencies,
      categories;
  int min_level = kMinLevel;           // the rule applies to requests at this level or above
  int max_level = kMaxLevel;           // permit and limit: the highest level the rule allows
  std::optional<int64_t> valid_from;   // Unix seconds, inclusive
  std::optional<int64_t> valid_until;  // Unix seconds, exclusive
  // Obligations the rule attaches, normalised: review = "custodian" becomes custodian_review,
  // redact = ["x"] becomes redact:x; sorted, deduplicated.
  std::vector<std::string> obligations;
  SourcePosition position;
};

struct Party {
  std::string id;    // agency id, e.g. "police" or "northshire-police"
  std::string type;  // agency type from the vocabulary
  std::string name;
};

struct Policy {
  PolicyKind kind = PolicyKind::kSharingAgreement;
  std::string id;
  std::string title;
  std::string owner;
  std::string review_date;  // YYYY-MM-DD
  int64_t review_date_unix = 0;

  // Sharing agreement.
  std::vector<Party> parties;
  std::vector<std::string> purposes;      // sorted
  std::vector<std::string> lawful_bases;  // sorted

  // Disclosure policy.
  std::string agency_type;
  std::vector<std::string> never_without_custodian;  // sorted categories
  uint64_t never_without_custodian_mask = 0;

  // [overrides]: when present, a request with an override ground is denied unless its ground is
  // listed, and permits carry `override_obligations`.
  bool has_overrides = false;
  Condition override_grounds_allowed;
  std::vector<std::string> override_obligations;

  std::vector<Rule> rules;

  // Derived: the canonical JSON of everything above (docs/policy.md) and its version,
  // "sha256:<64 hex>" of the canonical bytes.
  std::string canonical;
  std::string version;
  std::string source_name;

  // Index of an agency id among parties, or -1.
  int PartyIndex(std::string_view agency) const;
};

struct ParseOptions {
  // When set (Unix seconds), a review date before it and rules that have expired by then are
  // reported as warnings. The parser reads no clock.
  std::optional<int64_t> now;
  const Vocabulary* vocabulary = nullptr;  // null: the built-in vocabulary
};

struct ParseOutcome {
  std::optional<Policy> policy;         // set when there is no error (warnings allowed)
  std::vector<Diagnostic> diagnostics;  // sorted by line, column
  bool ok() const { return policy.has_value(); }
  // Every diagnostic, one per line.
  std::string ToString() const;
};

// Parses a policy from TOML text. `name` stands for the file in positions.
ParseOutcome ParsePolicy(std::string_view text, std::string_view name,
                         const ParseOptions& options = {});
// Reads a file (at most 1 MiB) and parses it. A file that cannot be read gives one diagnostic
// at position 0:0.
ParseOutcome ParsePolicyFile(const std::filesystem::path& path, const ParseOptions& options = {});
// Convenience: the policy, or InvalidArgument whose message is every error line.
Result<Policy> ParsePolicyOrError(std::string_view text, std::string_view name,
                                  const ParseOptions& options = {});

inline constexpr size_t kMaxPolicyBytes = 1 << 20;

// Canonical JSON of `policy` (sorted keys, no whitespace) and the version of those bytes.
// ParsePolicy already fills Policy::canonical and Policy::version.
std::string CanonicalJson(const Policy& policy);
std::string VersionOf(std::string_view canonical);

}  // namespace mash::policy
