#include "mash/agent/disclosure.h"

#include <algorithm>

#include "mash/common/log.h"
#include "mash/policy/loader.h"
#include "mash/policy/vocabulary.h"

namespace mash::agent {
namespace {

constexpr std::string_view kOverridePrefix = ";override:";
constexpr std::string_view kRedactPrefix = "redact:";
// answer-body.schema.json limits.
constexpr size_t kMaxReasonBytes = 1000;
constexpr size_t kMaxRuleBytes = 64;

bool Has(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

// Cuts `s` to at most `max` bytes without splitting a UTF-8 sequence (a split one would make
// the answer invalid JSON).
std::string Clamp(std::string s, size_t max) {
  if (s.size() <= max) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  s.resize(n);
  return s;
}

std::string Join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (const auto& p : parts) {
    if (!out.empty()) out += sep;
    out += p;
  }
  return out;
}

}  // namespace

Result<ConsentTag> ParseConsentTag(std::string_view tag) {
  ConsentTag out;
  std::string_view state = tag;
  if (const auto at = tag.find(kOverridePrefix); at != std::string_view::npos) {
    state = tag.substr(0, at);
    out.override_ground = std::string(tag.substr(at + kOverridePrefix.size()));
    if (policy::Vocabulary::Builtin().IndexOf(policy::Dimension::kOverrideGround,
                                              out.override_ground) < 0) {
      return InvalidArgument("consent field names an unknown override ground");
    }
  }
  out.state = std::string(state);
  if (policy::Vocabulary::Builtin().IndexOf(policy::Dimension::kConsentState, out.state) < 0) {
    return InvalidArgument("consent field has no known consent state");
  }
  return out;
}

Result<std::shared_ptr<const policy::PolicySet>> LoadDisclosurePolicies(
    const PolicySource& source, std::string_view agency_type, int64_t now_unix) {
  MASH_ASSIGN_OR_RETURN(policy::LoadedPolicySet loaded,
                        policy::LoadPolicySet(source, policy::PolicyKind::kDisclosurePolicy,
                                              std::string(agency_type), now_unix));
  const policy::Policy& enforced = loaded.set->enforced();
  for (const auto& w : loaded.warnings) {
    common::LogWarn("policy.warning", {{"policy", enforced.id}, {"warning", w.ToString()}});
  }
  common::LogInfo("policy.loaded",
                  {{"policy", enforced.id},
                   {"version", enforced.version},
                   {"shadow", loaded.set->shadow() ? loaded.set->shadow()->version : ""},
                   {"signers", loaded.signers.size()}});
  return loaded.set;
}

policy::Request MakeDisclosureRequest(const crypto::EnvelopeHeader& header,
                                      const ConsentTag& consent, std::string_view category,
                                      int level) {
  policy::Request r;
  r.role = "";  // the envelope header carries no role
  r.purpose = header.purpose;
  r.lawful_basis = header.lawful_basis;
  r.consent_state = consent.state;
  r.override_ground = consent.override_ground;
  r.urgency = header.urgency;
  r.category = std::string(category);
  r.level = level;
  return r;
}

bool NeedsCustodian(const policy::Policy& policy, const policy::Decision& decision,
                    std::string_view category) {
  if (decision.effect != policy::Effect::kPermit) return false;
  return Has(decision.obligations, "custodian_review") ||
         Has(decision.obligations, "second_approver") ||
         Has(policy.never_without_custodian, category);
}

std::string DecidingRule(const policy::Decision& decision) {
  return Clamp(decision.deciding_rule.empty() ? "default-deny" : decision.deciding_rule,
               kMaxRuleBytes);
}

schemas::CategoryAnswer Disclose(const policy::Policy& policy, const policy::Decision& decision,
                                 const std::string& category, const CategoryRecords& held) {
  schemas::CategoryAnswer c;
  c.category = category;
  c.rule = DecidingRule(decision);
  if (decision.effect != policy::Effect::kPermit) {
    c.outcome = "withheld";
    // The evaluator's sentences name rules, vocabulary ids and levels, never record content.
    c.reason = Clamp(decision.reasons.empty() ? "withheld under the agency's disclosure policy"
                                              : "withheld: " + Join(decision.reasons, "; "),
                     kMaxReasonBytes);
    return c;
  }
  if (NeedsCustodian(policy, decision, category)) {
    c.outcome = "review";
    c.reason = "waits for review by the agency's custodian; nothing is released until then";
    return c;
  }
  for (const auto& o : decision.obligations) {
    if (o.rfind(kRedactPrefix, 0) == 0) c.redacted.push_back(o.substr(kRedactPrefix.size()));
  }
  c.level = decision.level;
  if (decision.level >= 1) c.summary = held.summary;
  if (decision.level >= 2) c.latest = held.latest;
  if (decision.level >= 3) {
    // Records are flat objects of plain values (answer-body.schema.json). One that is not
    // cannot be redacted field by field with certainty, so a person looks at the category.
    const bool flat = std::all_of(held.records.begin(), held.records.end(), [](const auto& r) {
      return r.is_object() && std::none_of(r.begin(), r.end(), [](const auto& v) {
               return v.is_object() || v.is_array();
             });
    });
    if (!held.records.is_array() || !flat) {
      schemas::CategoryAnswer review;
      review.category = c.category;
      review.rule = c.rule;
      review.outcome = "review";
      review.reason =
          "waits for review by the agency's custodian: its records cannot be redacted "
          "automatically; nothing is released until then";
      return review;
    }
    c.records = held.records;
    for (auto& record : c.records) {
      for (const auto& field : c.redacted) record.erase(field);
    }
  }
  c.outcome = c.redacted.empty() ? "shared" : "redacted";
  return c;
}

}  // namespace mash::agent
