#include "mash/policy/evaluator.h"

#include <algorithm>

namespace mash::policy {
namespace {

// The request as one bit per dimension. A value that is absent or unknown has no bit, so it
// matches only conditions that accept any value.
struct Bits {
  uint64_t role = 0, purpose = 0, lawful_basis = 0, consent = 0, ground = 0, urgency = 0,
           agency = 0, category = 0;
};

uint64_t BitOf(const Vocabulary& v, Dimension d, const std::string& id,
               std::vector<std::string>* unknown) {
  if (id.empty()) return 0;
  const int i = v.IndexOf(d, id);
  if (i < 0) {
    unknown->push_back("unknown " + std::string(DimensionName(d)) + " '" + id + "'");
    return 0;
  }
  return uint64_t{1} << i;
}

inline bool In(const Condition& c, uint64_t bit) { return c.any || (c.mask & bit) != 0; }

inline bool InWindow(const Rule& r, int64_t t) {
  return (!r.valid_from || t >= *r.valid_from) && (!r.valid_until || t < *r.valid_until);
}

inline bool Matches(const Rule& r, const Bits& b, int level, int64_t t) {
  return In(r.purposes, b.purpose) && In(r.roles, b.role) && In(r.agencies, b.agency) &&
         In(r.categories, b.category) && In(r.lawful_bases, b.lawful_basis) &&
         In(r.consent_states, b.consent) && In(r.override_grounds, b.ground) &&
         In(r.urgencies, b.urgency) && level >= r.min_level && InWindow(r, t);
}

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

std::string Value(const std::string& s) { return s.empty() ? "(none)" : "'" + s + "'"; }

// The first condition of `r` the request fails, for explanations.
std::string FirstMiss(const Rule& r, const Bits& b, const Request& q, int64_t t) {
  struct Dim {
    const char* name;
    const Condition& c;
    uint64_t bit;
    const std::string& value;
  };
  const std::string none = "none";
  const Dim dims[] = {{"purpose", r.purposes, b.purpose, q.purpose},
                      {"role", r.roles, b.role, q.role},
                      {"agency", r.agencies, b.agency, q.agency},
                      {"category", r.categories, b.category, q.category},
                      {"lawful basis", r.lawful_bases, b.lawful_basis, q.lawful_basis},
                      {"consent state", r.consent_states, b.consent, q.consent_state},
                      {"override ground", r.override_grounds, b.ground,
                       q.override_ground.empty() ? none : q.override_ground},
                      {"urgency", r.urgencies, b.urgency, q.urgency}};
  for (const auto& d : dims) {
    if (!In(d.c, d.bit)) {
      return std::string(d.name) + " " + Value(d.value) + " is not one of " + Join(d.c.values);
    }
  }
  if (q.level < r.min_level) {
    return "level " + std::to_string(q.level) + " is below its min_level " +
           std::to_string(r.min_level);
  }
  if (!InWindow(r, t)) return "it does not apply at this time";
  return "it matches";
}

int ObligationRank(const std::string& o) {
  if (o == "second_approver") return 0;
  if (o == "custodian_review") return 1;
  if (o == "notify_custodian") return 2;
  if (o == "record_reason") return 3;
  return 4;
}

void Merge(std::vector<std::string>& into, const std::vector<std::string>& from) {
  for (const auto& o : from) {
    if (std::find(into.begin(), into.end(), o) == into.end()) into.push_back(o);
  }
}

std::string RuleRef(const Rule& r) {
  std::string s = "rule '" + r.id + "'";
  if (!r.description.empty()) s += " (" + r.description + ")";
  return s;
}

}  // namespace

std::string_view EffectName(Effect e) { return e == Effect::kPermit ? "permit" : "deny"; }

void SortObligations(std::vector<std::string>& o) {
  std::sort(o.begin(), o.end(), [](const std::string& a, const std::string& b) {
    const int ra = ObligationRank(a), rb = ObligationRank(b);
    return ra != rb ? ra < rb : a < b;
  });
  o.erase(std::unique(o.begin(), o.end()), o.end());
}

Decision Evaluate(const Policy& p, const Request& q, int64_t t, const EvaluateOptions& options) {
  const Vocabulary& v = Vocabulary::Builtin();
  Decision d;
  d.policy_version = p.version;
  std::vector<std::string> unknown;
  Bits b;
  b.role = BitOf(v, Dimension::kRole, q.role, &unknown);
  b.purpose = BitOf(v, Dimension::kPurpose, q.purpose, &unknown);
  b.lawful_basis = BitOf(v, Dimension::kLawfulBasis, q.lawful_basis, &unknown);
  b.consent = BitOf(v, Dimension::kConsentState, q.consent_state, &unknown);
  b.ground = q.override_ground.empty()
                 ? kNoneBit
                 : BitOf(v, Dimension::kOverrideGround, q.override_ground, &unknown);
  b.urgency = BitOf(v, Dimension::kUrgency, q.urgency, &unknown);
  b.category = BitOf(v, Dimension::kCategory, q.category, &unknown);
  if (!q.agency.empty()) {
    const int i = p.PartyIndex(q.agency);
    if (i >= 0) {
      b.agency = uint64_t{1} << i;
    } else if (p.kind == PolicyKind::kSharingAgreement) {
      unknown.push_back("agency '" + q.agency + "' is not a party to the agreement");
    }
  }

  const Rule* first_forbid = nullptr;
  const Rule* best_permit = nullptr;
  const Rule* tightest_limit = nullptr;
  std::vector<const Rule*> permits_and_limits;
  std::vector<const Rule*> forbids;
  for (const Rule& r : p.rules) {
    if (!Matches(r, b, q.level, t)) continue;
    d.matching_rules.push_back(r.id);
    switch (r.effect) {
      case RuleEffect::kForbid:
        if (!first_forbid) first_forbid = &r;
        forbids.push_back(&r);
        break;
      case RuleEffect::kPermit:
        if (!best_permit || r.max_level > best_permit->max_level) best_permit = &r;
        permits_and_limits.push_back(&r);
        break;
      case RuleEffect::kLimit:
        if (!tightest_limit || r.max_level < tightest_limit->max_level) tightest_limit = &r;
        permits_and_limits.push_back(&r);
        break;
    }
  }

  for (auto& u : unknown) d.reasons.push_back(std::move(u));
  if (q.level < kMinLevel || q.level > kMaxLevel) {
    d.reasons.push_back("level " + std::to_string(q.level) + " is not 0..3 (deny)");
    return d;
  }
  const bool overridden = !q.override_ground.empty();
  if (p.has_overrides && overridden && !(p.override_grounds_allowed.mask & b.ground)) {
    d.deciding_rule = "overrides";
    d.reasons.push_back("override ground " + Value(q.override_ground) +
                        " is not accepted by this policy's [overrides] (accepted: " +
                        Join(p.override_grounds_allowed.values) + ")");
    return d;
  }
  if (first_forbid) {
    d.deciding_rule = first_forbid->id;
    for (const Rule* r : forbids) {
      Merge(d.obligations, r->obligations);
      d.reasons.push_back("forbidden by " + RuleRef(*r));
    }
    if (best_permit) {
      d.reasons.push_back("a forbid beats any permit; permit '" + best_permit->id +
                          "' also matched");
    }
    SortObligations(d.obligations);
    return d;
  }
  if (!best_permit) {
    std::string what = "purpose " + Value(q.purpose) + ", lawful basis " + Value(q.lawful_basis) +
                       ", consent " + Value(q.consent_state) + ", override ground " +
                       Value(q.override_ground) + ", urgency " + Value(q.urgency);
    if (p.kind == PolicyKind::kSharingAgreement) {
      what = "role " + Value(q.role) + ", agency " + Value(q.agency) + ", " + what;
    } else {
      what = "category " + Value(q.category) + ", " + what;
    }
    d.reasons.push_back("no rule permits " + what + " at level " + std::to_string(q.level) +
                        " (deny by default)");
    if (options.explain_misses) {
      for (const Rule& r : p.rules) {
        if (r.effect != RuleEffect::kPermit) continue;
        d.reasons.push_back("rule '" + r.id + "' does not match: " + FirstMiss(r, b, q, t));
      }
    }
    return d;
  }

  d.effect = Effect::kPermit;
  d.deciding_rule = best_permit->id;
  d.reasons.push_back("permitted by " + RuleRef(*best_permit) + " up to level " +
                      std::to_string(best_permit->max_level));
  int level = std::min(q.level, best_permit->max_level);
  if (level < q.level) {
    d.reasons.push_back("level " + std::to_string(q.level) +
                        " requested; the highest level any "
                        "matching permit allows is " +
                        std::to_string(best_permit->max_level));
  }
  if (tightest_limit && tightest_limit->max_level < level) {
    level = tightest_limit->max_level;
    d.reasons.push_back("limited to level " + std::to_string(level) + " by " +
                        RuleRef(*tightest_limit));
  }
  d.level = level;
  for (const Rule* r : permits_and_limits) Merge(d.obligations, r->obligations);
  if (p.has_overrides && overridden) {
    Merge(d.obligations, p.override_obligations);
    if (!p.override_obligations.empty()) {
      d.reasons.push_back("override ground '" + q.override_ground +
                          "' recorded: [overrides] adds " + Join(p.override_obligations));
    }
  }
  if (p.never_without_custodian_mask & b.category) {
    Merge(d.obligations, {"custodian_review"});
    d.reasons.push_back("category '" + q.category +
                        "' is never shared without a custodian: custodian_review");
  }
  SortObligations(d.obligations);
  if (!d.obligations.empty()) d.reasons.push_back("obligations: " + Join(d.obligations));
  return d;
}

bool DecisionsDiffer(const Decision& a, const Decision& b) {
  return a.effect != b.effect || a.level != b.level || a.obligations != b.obligations;
}

std::string FormatDecision(const Decision& d) {
  std::string out(EffectName(d.effect));
  if (d.effect == Effect::kPermit) out += " at level " + std::to_string(d.level);
  out += "  (deciding rule: " +
         (d.deciding_rule.empty() ? std::string("none, deny by default") : d.deciding_rule) + ")\n";
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
    return s.empty() ? std::string("-") : s;
  };
  out += "matching rules: " + list(d.matching_rules) + "\n";
  out += "obligations:    " + list(d.obligations) + "\n";
  out += "reasons:\n";
  for (const auto& r : d.reasons) out += "  - " + r + "\n";
  out += "policy version: " + d.policy_version + "\n";
  return out;
}

PolicySet::PolicySet(std::shared_ptr<const Policy> enforced, std::shared_ptr<const Policy> shadow)
    : enforced_(std::move(enforced)), shadow_(std::move(shadow)) {}

PolicySet::Outcome PolicySet::EvaluateBoth(const Request& request, int64_t time_unix) const {
  Outcome out;
  out.enforced = Evaluate(*enforced_, request, time_unix);
  if (shadow_) {
    out.shadow = Evaluate(*shadow_, request, time_unix);
    out.differs = DecisionsDiffer(out.enforced, *out.shadow);
  }
  return out;
}

}  // namespace mash::policy
