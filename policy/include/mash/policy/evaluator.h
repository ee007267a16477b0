// Evaluation of a request against a policy (DESIGN §7, semantics in docs/policy.md).
//
//   - Deny by default: without a matching permit the answer is deny.
//   - A matching forbid beats every permit.
//   - The level granted is the requested level, capped by the highest max_level among the
//     matching permits and by the lowest max_level among the matching limits.
//   - The deciding rule of a permit is the (first) permit that allows the highest level.
//   - Obligations of every matching rule of the winning effect are merged (deduplicated, in a
//     fixed order), plus the policy's own (never_without_custodian, [overrides]).
//   - A rule applies only inside its time window [valid_from, valid_until).
//
// Evaluate() is a pure function of (policy, request, time): it reads no clock and does no I/O,
// so any past decision can be replayed.
//
// Thread safety: pure functions; PolicySet is immutable after construction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/policy/policy.h"

namespace mash::policy {

// What is asked. Empty strings are "not given". `override_ground` empty means no override.
struct Request {
  std::string role;
  std::string purpose;
  std::string lawful_basis;
  std::string consent_state;
  std::string override_ground;
  std::string urgency;
  std::string agency;    // sharing agreements: the agency asked
  std::string category;  // disclosure policies: the data category
  int level = 1;
};

enum class Effect { kDeny = 0, kPermit = 1 };
std::string_view EffectName(Effect e);  // "deny" / "permit"

struct Decision {
  Effect effect = Effect::kDeny;
  int level = -1;  // granted level for a permit; -1 for a deny
  // The rule that decided: the first matching forbid, the permit (or limit) that set the level,
  // or empty for deny by default. "overrides" when the [overrides] table refused the ground.
  std::string deciding_rule;
  std::vector<std::string> matching_rules;  // in file order
  std::vector<std::string> obligations;     // merged, deterministic order
  std::vector<std::string> reasons;         // readable sentences
  std::string policy_version;
};

// Fixed order of obligations: second_approver, custodian_review, notify_custodian,
// record_reason, then redact:<field> by field name.
void SortObligations(std::vector<std::string>& obligations);

struct EvaluateOptions {
  // With a default deny, also say for each rule the first condition that did not match.
  bool explain_misses = false;
};

Decision Evaluate(const Policy& policy, const Request& request, int64_t time_unix,
                  const EvaluateOptions& options = {});

// True when the two decisions differ in effect, level or obligations.
bool DecisionsDiffer(const Decision& a, const Decision& b);

// The decision as `mashctl policy explain` prints it, one line each: the effect (with the level
// of a permit) and deciding rule, the matching rules, the obligations, the reasons (each
// "  - ...") and the policy version. Every line ends with "\n".
std::string FormatDecision(const Decision& d);

// Enforced and (optionally) shadow versions of one policy. The daemons evaluate every request
// with EvaluateBoth(), act on `enforced` only, and record `shadow` when `differs`.
class PolicySet {
 public:
  PolicySet(std::shared_ptr<const Policy> enforced, std::shared_ptr<const Policy> shadow = nullptr);

  struct Outcome {
    Decision enforced;
    std::optional<Decision> shadow;
    bool differs = false;
  };
  Outcome EvaluateBoth(const Request& request, int64_t time_unix) const;

  const Policy& enforced() const { return *enforced_; }
  const Policy* shadow() const { return shadow_.get(); }

 private:
  std::shared_ptr<const Policy> enforced_;
  std::shared_ptr<const Policy> shadow_;
};

}  // namespace mash::policy
