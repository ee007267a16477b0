#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "mash/policy/policy.h"
#include "mash/policy/time_text.h"
#include "mash/policy/vocabulary.h"

namespace mash::policy {
namespace {

bool ValidRuleId(std::string_view id) {
  if (id.empty() || id.size() > 64 || !std::isalnum(static_cast<unsigned char>(id[0]))) {
    return false;
  }
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-';
  });
}

constexpr std::string_view kNone = "none";

class Parser {
 public:
  Parser(std::string_view name, const ParseOptions& options)
      : file_(name),
        options_(options),
        vocab_(options.vocabulary ? *options.vocabulary : Vocabulary::Builtin()) {}

  ParseOutcome Run(std::string_view text);

 private:
  SourcePosition Pos(const toml::source_region& r) const {
    return {file_, static_cast<int>(r.begin.line), static_cast<int>(r.begin.column)};
  }
  SourcePosition Pos(const toml::node& n) const { return Pos(n.source()); }
  void Error(const SourcePosition& p, std::string m) {
    diags_.push_back({Diagnostic::Severity::kError, p, std::move(m)});
  }
  void Warning(const SourcePosition& p, std::string m) {
    diags_.push_back({Diagnostic::Severity::kWarning, p, std::move(m)});
  }

  // Reports keys of `t` not in `allowed`.
  void CheckKeys(const toml::table& t, std::initializer_list<std::string_view> allowed,
                 std::string_view where) {
    for (auto&& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        Error(Pos(k.source()), "unknown key '" + std::string(k.str()) + "'" +
                                   (where.empty() ? "" : " in " + std::string(where)));
      }
    }
  }

  std::optional<std::string> String(const toml::table& t, std::string_view key, bool required,
                                    const SourcePosition& table_pos) {
    const toml::node* n = t.get(key);
    if (!n) {
      if (required) Error(table_pos, "missing required key '" + std::string(key) + "'");
      return std::nullopt;
    }
    if (!n->is_string()) {
      Error(Pos(*n), "'" + std::string(key) + "' must be a string");
      return std::nullopt;
    }
    return n->as_string()->get();
  }

  std::optional<int> Level(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_integer()) {
      Error(Pos(*n), "'" + std::string(key) + "' must be an integer 0..3");
      return std::nullopt;
    }
    const int64_t v = n->as_integer()->get();
    if (v < kMinLevel || v > kMaxLevel) {
      Error(Pos(*n), "'" + std::string(key) +
                         "' must be 0..3 (0 discovery, 1 involvement, "
                         "2 relevant summary, 3 specified records), not " +
                         std::to_string(v));
      return std::nullopt;
    }
    return static_cast<int>(v);
  }

  // A list of strings; each element with its position. nullopt when absent or mistyped.
  std::optional<std::vector<std::pair<std::string, SourcePosition>>> StringList(
      const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const toml::array* a = n->as_array();
    if (!a) {
      Error(Pos(*n), "'" + std::string(key) + "' must be a list of strings");
      return std::nullopt;
    }
    std::vector<std::pair<std::string, SourcePosition>> out;
    bool bad = false;
    for (const auto& e : *a) {
      if (!e.is_string()) {
        Error(Pos(e), "'" + std::string(key) + "' must be a list of strings");
        bad = true;
        continue;
      }
      out.emplace_back(e.as_string()->get(), Pos(e));
    }
    if (bad) return std::nullopt;
    return out;
  }

  // A time: an offset date-time, a date (midnight UTC) or a string of either.
  std::optional<int64_t> Time(const toml::table& t, std::string_view key) {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const std::string k(key);
    if (const auto* d = n->as_date()) {
      const toml::date v = d->get();
      return DaysFromCivil(v.year, v.month, v.day) * 86400;
    }
    if (const auto* dt = n->as_date_time()) {
      const toml::date_time v = dt->get();
      if (!v.offset) {
        Error(Pos(*n), "'" + k + "' needs a UTC offset, e.g. 2027-01-01T00:00:00Z");
        return std::nullopt;
      }
      return DaysFromCivil(v.date.year, v.date.month, v.date.day) * 86400 + v.time.hour * 3600 +
             v.time.minute * 60 + v.time.second - int64_t{v.offset->minutes} * 60;
    }
    if (const auto* s = n->as_string()) {
      if (auto parsed = ParseTime(s->get())) return parsed;
    }
    Error(Pos(*n), "'" + k +
                       "' must be a date (2027-03-31) or a date-time with offset "
                       "(2027-03-31T00:00:00Z)");
    return std::nullopt;
  }

  std::string Known(Dimension d) const {
    std::string s;
    for (const auto& term : vocab_.Terms(d)) s += (s.empty() ? "" : ", ") + term.id;
    if (d == Dimension::kOverrideGround) s += ", none";
    return s;
  }

  // Builds a condition from a list of vocabulary ids.
  Condition MakeCondition(const toml::table& t, std::string_view key, Dimension d) {
    Condition c;
    auto list = StringList(t, key);
    if (!list) return c;
    c.any = false;
    if (list->empty()) {
      Error(Pos(*t.get(key)), "'" + std::string(key) +
                                  "' is empty, so the rule can never match (leave the key out "
                                  "to match any " +
                                  std::string(DimensionName(d)) + ")");
      return c;
    }
    for (const auto& [id, pos] : *list) {
      if (d == Dimension::kOverrideGround && id == kNone) {
        c.mask |= kNoneBit;
      } else {
        const int i = vocab_.IndexOf(d, id);
        if (i < 0) {
          std::string msg = "unknown " + std::string(DimensionName(d)) + " '" + id + "'";
          if (d != Dimension::kCategory) msg += " (known: " + Known(d) + ")";
          Error(pos, msg);
          continue;
        }
        c.mask |= uint64_t{1} << i;
      }
      c.values.push_back(id);
    }
    std::sort(c.values.begin(), c.values.end());
    c.values.erase(std::unique(c.values.begin(), c.values.end()), c.values.end());
    return c;
  }

  std::vector<std::string> Obligations(const toml::table& t, std::string_view key) {
    std::vector<std::string> out;
    auto list = StringList(t, key);
    if (!list) return out;
    for (const auto& [o, pos] : *list) {
      if (!IsKnownObligation(o)) {
        Error(pos, "unknown obligation '" + o +
                       "' (known: custodian_review, notify_custodian, "
                       "second_approver, record_reason, redact:<field>)");
        continue;
      }
      out.push_back(o);
    }
    return out;
  }

  void ParseHeader(const toml::table& root);
  void ParseParties(const toml::table& root);
  void ParseOverrides(const toml::table& root);
  void ParseRule(const toml::table& t, std::map<std::string, int>& seen);

  std::string file_;
  const ParseOptions& options_;
  const Vocabulary& vocab_;
  std::vector<Diagnostic> diags_;
  Policy p_;
  bool kind_ok_ = false;
};

void Parser::ParseHeader(const toml::table& root) {
  const SourcePosition top{file_, 1, 1};
  if (auto kind = String(root, "kind", true, top)) {
    if (*kind == "sharing-agreement") {
      p_.kind = PolicyKind::kSharingAgreement;
      kind_ok_ = true;
    } else if (*kind == "disclosure-policy") {
      p_.kind = PolicyKind::kDisclosurePolicy;
      kind_ok_ = true;
    } else {
      Error(Pos(*root.get("kind")),
            "'kind' must be \"sharing-agreement\" or \"disclosure-policy\", not \"" + *kind + "\"");
    }
  }
  if (auto id = String(root, "id", true, top)) {
    if (id->empty()) Error(Pos(*root.get("id")), "'id' must not be empty");
    p_.id = *id;
  }
  p_.title = String(root, "title", false, top).value_or("");
  p_.owner = String(root, "owner", true, top).value_or("");
  if (root.get("review_date") == nullptr) {
    Error(top, "missing required key 'review_date'");
  } else if (auto t = Time(root, "review_date")) {
    p_.review_date_unix = *t;
    p_.review_date = FormatTime(*t).substr(0, 10);
    if (options_.now && *options_.now > *t) {
      Warning(Pos(*root.get("review_date")),
              "review date " + p_.review_date + " has passed: the policy is overdue for review");
    }
  }
  if (!kind_ok_) return;
  const bool agreement = p_.kind == PolicyKind::kSharingAgreement;
  if (agreement) {
    CheckKeys(root,
              {"kind", "id", "title", "owner", "review_date", "purposes", "lawful_bases", "party",
               "overrides", "rule"},
              "a sharing agreement");
    for (const char* key : {"purposes", "lawful_bases"}) {
      const Dimension d =
          std::string_view(key) == "purposes" ? Dimension::kPurpose : Dimension::kLawfulBasis;
      if (!root.get(key)) {
        Error(top, "missing required key '" + std::string(key) + "'");
        continue;
      }
      Condition c = MakeCondition(root, key, d);
      (d == Dimension::kPurpose ? p_.purposes : p_.lawful_bases) = c.values;
    }
    ParseParties(root);
  } else {
    CheckKeys(root,
              {"kind", "id", "title", "owner", "review_date", "agency_type",
               "never_without_custodian", "overrides", "rule"},
              "a disclosure policy");
    if (auto type = String(root, "agency_type", true, top)) {
      if (!vocab_.FindAgencyType(*type)) {
        std::string known;
        for (const auto& a : vocab_.agency_types()) known += (known.empty() ? "" : ", ") + a.id;
        Error(Pos(*root.get("agency_type")),
              "unknown agency type '" + *type + "' (known: " + known + ")");
      } else {
        p_.agency_type = *type;
      }
    }
    if (root.get("never_without_custodian")) {
      Condition c = MakeCondition(root, "never_without_custodian", Dimension::kCategory);
      p_.never_without_custodian = c.values;
      p_.never_without_custodian_mask = c.mask;
      if (auto list = StringList(root, "never_without_custodian")) {
        const AgencyType* type = vocab_.FindAgencyType(p_.agency_type);
        for (const auto& [cat, pos] : *list) {
          const int i = vocab_.IndexOf(Dimension::kCategory, cat);
          if (i >= 0 && type &&
              vocab_.Terms(Dimension::kCategory)[static_cast<size_t>(i)].agency_type != type->id) {
            Error(pos, "category '" + cat + "' is not a " + type->id + " category");
          }
        }
      }
    }
  }
  ParseOverrides(root);
}

void Parser::ParseParties(const toml::table& root) {
  const toml::node* n = root.get("party");
  if (!n) {
    Error({file_, 1, 1}, "a sharing agreement needs at least one [[party]]");
    return;
  }
  const toml::array* a = n->as_array();
  if (!a || !a->is_array_of_tables()) {
    Error(Pos(*n), "'party' must be an array of tables ([[party]])");
    return;
  }
  std::set<std::string> ids;
  for (const auto& e : *a) {
    const toml::table& t = *e.as_table();
    const SourcePosition pos = Pos(t);
    CheckKeys(t, {"id", "type", "name"}, "[[party]]");
    Party party;
    party.id = String(t, "id", true, pos).value_or("");
    party.type = String(t, "type", true, pos).value_or("");
    party.name = String(t, "name", false, pos).value_or("");
    if (!party.type.empty() && !vocab_.FindAgencyType(party.type)) {
      Error(Pos(*t.get("type")), "unknown agency type '" + party.type + "'");
    }
    if (!party.id.empty() && !ids.insert(party.id).second) {
      Error(Pos(*t.get("id")), "duplicate party id '" + party.id + "'");
    }
    p_.parties.push_back(std::move(party));
  }
  if (p_.parties.size() > kMaxTermsPerDimension) {
    Error(Pos(*n), "too many parties (at most 63)");
  }
}

void Parser::ParseOverrides(const toml::table& root) {
  const toml::node* n = root.get("overrides");
  if (!n) return;
  const toml::table* t = n->as_table();
  if (!t) {
    Error(Pos(*n), "'overrides' must be a table ([overrides])");
    return;
  }
  CheckKeys(*t, {"grounds", "obligations"}, "[overrides]");
  p_.has_overrides = true;
  if (!t->get("grounds")) {
    Error(Pos(*t), "missing required key 'grounds' in [overrides]");
  } else {
    p_.override_grounds_allowed = MakeCondition(*t, "grounds", Dimension::kOverrideGround);
    if (p_.override_grounds_allowed.mask & kNoneBit) {
      Error(Pos(*t->get("grounds")), "'none' is not an override ground");
    }
  }
  p_.override_obligations = Obligations(*t, "obligations");
}

void Parser::ParseRule(const toml::table& t, std::map<std::string, int>& seen) {
  const SourcePosition pos = Pos(t);
  const bool agreement = p_.kind == PolicyKind::kSharingAgreement;
  if (agreement) {
    CheckKeys(t,
              {"id", "effect", "description", "roles", "purposes", "lawful_bases", "consent_states",
               "override_grounds", "urgencies", "agencies", "min_level", "max_level", "valid_from",
               "valid_until", "obligations"},
              "a sharing agreement rule");
  } else {
    CheckKeys(t,
              {"id", "effect", "description", "purposes", "lawful_bases", "consent_states",
               "override_grounds", "urgencies", "categories", "min_level", "max_level",
               "valid_from", "valid_until", "obligations", "review", "redact"},
              "a disclosure policy rule");
  }
  Rule r;
  r.position = pos;
  r.id = String(t, "id", true, pos).value_or("");
  if (!r.id.empty() && !ValidRuleId(r.id)) {
    // Rule ids travel in answers and audit events, which hold at most 64 characters of them.
    Error(Pos(*t.get("id")),
          "rule id must be 1 to 64 characters of letters, digits, '.', '_' and '-', starting "
          "with a letter or digit");
  }
  if (!r.id.empty()) {
    auto [it, fresh] = seen.emplace(r.id, pos.line);
    if (!fresh) {
      Error(Pos(*t.get("id")),
            "duplicate rule id '" + r.id + "' (first at line " + std::to_string(it->second) + ")");
    }
  }
  const std::string label = "rule '" + r.id + "'";
  r.description = String(t, "description", false, pos).value_or("");
  if (auto effect = String(t, "effect", true, pos)) {
    if (*effect == "permit") {
      r.effect = RuleEffect::kPermit;
    } else if (*effect == "forbid") {
      r.effect = RuleEffect::kForbid;
    } else if (*effect == "limit") {
      r.effect = RuleEffect::kLimit;
    } else {
      Error(Pos(*t.get("effect")),
            "'effect' must be \"permit\", \"forbid\" or \"limit\", not \"" + *effect + "\"");
    }
  }
  r.purposes = MakeCondition(t, "purposes", Dimension::kPurpose);
  r.lawful_bases = MakeCondition(t, "lawful_bases", Dimension::kLawfulBasis);
  r.consent_states = MakeCondition(t, "consent_states", Dimension::kConsentState);
  r.override_grounds = MakeCondition(t, "override_grounds", Dimension::kOverrideGround);
  r.urgencies = MakeCondition(t, "urgencies", Dimension::kUrgency);

  if (agreement) {
    r.roles = MakeCondition(t, "roles", Dimension::kRole);
    // Purposes and lawful bases must be the agreement's own; agencies must be parties.
    if (auto list = StringList(t, "purposes")) {
      for (const auto& [id, p] : *list) {
        if (vocab_.IndexOf(Dimension::kPurpose, id) >= 0 &&
            !std::binary_search(p_.purposes.begin(), p_.purposes.end(), id)) {
          Error(p, "purpose '" + id + "' is not among the agreement's purposes");
        }
      }
    }
    if (auto list = StringList(t, "lawful_bases")) {
      for (const auto& [id, p] : *list) {
        if (vocab_.IndexOf(Dimension::kLawfulBasis, id) >= 0 &&
            !std::binary_search(p_.lawful_bases.begin(), p_.lawful_bases.end(), id)) {
          Error(p, "lawful basis '" + id + "' is not among the agreement's lawful bases");
        }
      }
    }
    if (auto list = StringList(t, "agencies")) {
      r.agencies.any = false;
      if (list->empty()) {
        Error(Pos(*t.get("agencies")),
              "'agencies' is empty, so the rule can never match (leave the key out to match "
              "any agency)");
      }
      for (const auto& [id, p] : *list) {
        const int i = p_.PartyIndex(id);
        if (i < 0) {
          Error(p, "agency '" + id + "' is not a party to the agreement");
          continue;
        }
        r.agencies.mask |= uint64_t{1} << i;
        r.agencies.values.push_back(id);
      }
      std::sort(r.agencies.values.begin(), r.agencies.values.end());
      r.agencies.values.erase(std::unique(r.agencies.values.begin(), r.agencies.values.end()),
                              r.agencies.values.end());
    }
  } else {
    r.categories = MakeCondition(t, "categories", Dimension::kCategory);
    if (auto list = StringList(t, "categories")) {
      for (const auto& [cat, p] : *list) {
        const int i = vocab_.IndexOf(Dimension::kCategory, cat);
        if (i >= 0 && !p_.agency_type.empty() &&
            vocab_.Terms(Dimension::kCategory)[static_cast<size_t>(i)].agency_type !=
                p_.agency_type) {
          Error(p, "category '" + cat + "' is not a " + p_.agency_type +
                       " category, so the rule can never match");
        }
      }
    }
    if (auto review = String(t, "review", false, pos)) {
      if (*review == "custodian") {
        r.obligations.push_back("custodian_review");
      } else if (*review != "automatic") {
        Error(Pos(*t.get("review")),
              "'review' must be \"automatic\" or \"custodian\", not \"" + *review + "\"");
      }
    }
    if (auto list = StringList(t, "redact")) {
      for (const auto& [field, p] : *list) {
        const std::string o = "redact:" + field;
        if (!IsKnownObligation(o)) {
          Error(p, "'" + field + "' is not a field name ([a-z][a-z0-9_]*)");
          continue;
        }
        r.obligations.push_back(o);
      }
    }
  }

  const auto min_level = Level(t, "min_level");
  const auto max_level = Level(t, "max_level");
  r.min_level = min_level.value_or(kMinLevel);
  r.max_level = max_level.value_or(kMaxLevel);
  if (r.effect == RuleEffect::kForbid && t.get("max_level")) {
    Error(Pos(*t.get("max_level")),
          "'max_level' has no meaning on a forbid rule (use min_level to forbid only higher "
          "levels)");
  }
  if (r.effect == RuleEffect::kLimit && !t.get("max_level")) {
    Error(pos, "missing required key 'max_level' in a limit rule");
  }
  if (r.effect == RuleEffect::kPermit && !t.get("max_level")) {
    Error(pos,
          "missing required key 'max_level' in a permit rule (the highest level it "
          "releases)");
  }
  if (r.effect != RuleEffect::kForbid && min_level && max_level && *min_level > *max_level) {
    Error(Pos(*t.get("min_level")), label + ": min_level " + std::to_string(*min_level) +
                                        " is above max_level " + std::to_string(*max_level) +
                                        ", so the rule can never grant what it matches");
  }
  if (r.effect == RuleEffect::kLimit && max_level && *max_level == kMaxLevel) {
    Warning(Pos(*t.get("max_level")), label + ": a limit of level 3 limits nothing");
  }
  r.valid_from = Time(t, "valid_from");
  r.valid_until = Time(t, "valid_until");
  if (r.valid_from && r.valid_until && *r.valid_until <= *r.valid_from) {
    Error(Pos(*t.get("valid_until")),
          label + ": valid_until is not after valid_from, so the rule can never apply");
  } else if (r.valid_until && options_.now && *r.valid_until <= *options_.now) {
    Warning(Pos(*t.get("valid_until")),
            label + ": expired on " + FormatTime(*r.valid_until) + ", so it no longer applies");
  }
  if (r.consent_states.values.size() == 1 && r.consent_states.values[0] == "given" &&
      !r.override_grounds.any && !(r.override_grounds.mask & kNoneBit) &&
      r.effect != RuleEffect::kForbid) {
    // Not impossible (consent given and a ground both recorded), but almost always a mistake.
    Warning(Pos(*t.get("override_grounds")),
            label + ": matches only requests with consent given and an override ground");
  }
  auto extra = Obligations(t, "obligations");
  r.obligations.insert(r.obligations.end(), extra.begin(), extra.end());
  std::sort(r.obligations.begin(), r.obligations.end());
  r.obligations.erase(std::unique(r.obligations.begin(), r.obligations.end()), r.obligations.end());
  p_.rules.push_back(std::move(r));
}

ParseOutcome Parser::Run(std::string_view text) {
  ParseOutcome out;
  toml::table root;
  try {
    root = toml::parse(text, file_);
  } catch (const toml::parse_error& e) {
    out.diagnostics.push_back(
        {Diagnostic::Severity::kError, Pos(e.source()), std::string(e.description())});
    return out;
  }
  p_.source_name = file_;
  ParseHeader(root);
  if (kind_ok_) {
    std::map<std::string, int> seen;
    if (const toml::node* n = root.get("rule")) {
      const toml::array* a = n->as_array();
      if (!a || !a->is_array_of_tables()) {
        Error(Pos(*n), "'rule' must be an array of tables ([[rule]])");
      } else {
        for (const auto& e : *a) ParseRule(*e.as_table(), seen);
      }
    }
    if (p_.rules.empty()) {
      Warning({file_, 1, 1}, "the policy has no rules, so it denies everything");
    }
  }
  std::stable_sort(diags_.begin(), diags_.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.position.line, a.position.column) <
           std::tie(b.position.line, b.position.column);
  });
  out.diagnostics = std::move(diags_);
  const bool has_error =
      std::any_of(out.diagnostics.begin(), out.diagnostics.end(),
                  [](const Diagnostic& d) { return d.severity == Diagnostic::Severity::kError; });
  if (!has_error) {
    std::sort(p_.override_obligations.begin(), p_.override_obligations.end());
    p_.override_obligations.erase(
        std::unique(p_.override_obligations.begin(), p_.override_obligations.end()),
        p_.override_obligations.end());
    p_.canonical = CanonicalJson(p_);
    p_.version = VersionOf(p_.canonical);
    out.policy = std::move(p_);
  }
  return out;
}

}  // namespace

std::string_view PolicyKindName(PolicyKind k) {
  return k == PolicyKind::kSharingAgreement ? "sharing-agreement" : "disclosure-policy";
}

std::string_view RuleEffectName(RuleEffect e) {
  switch (e) {
    case RuleEffect::kPermit:
      return "permit";
    case RuleEffect::kForbid:
      return "forbid";
    case RuleEffect::kLimit:
      return "limit";
  }
  return "?";
}

std::string SourcePosition::ToString() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column);
}

std::string Diagnostic::ToString() const {
  return position.ToString() + (severity == Severity::kError ? ": error: " : ": warning: ") +
         message;
}

std::string ParseOutcome::ToString() const {
  std::string s;
  for (const auto& d : diagnostics) s += d.ToString() + "\n";
  return s;
}

int Policy::PartyIndex(std::string_view agency) const {
  for (size_t i = 0; i < parties.size(); ++i) {
    if (parties[i].id == agency) return static_cast<int>(i);
  }
  return -1;
}

ParseOutcome ParsePolicy(std::string_view text, std::string_view name,
                         const ParseOptions& options) {
  if (text.size() > kMaxPolicyBytes) {
    ParseOutcome out;
    out.diagnostics.push_back(
        {Diagnostic::Severity::kError, {std::string(name), 1, 1}, "policy file larger than 1 MiB"});
    return out;
  }
  return Parser(name, options).Run(text);
}

ParseOutcome ParsePolicyFile(const std::filesystem::path& path, const ParseOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    ParseOutcome out;
    out.diagnostics.push_back(
        {Diagnostic::Severity::kError, {path.string(), 0, 0}, "cannot open the file"});
    return out;
  }
  std::string text(kMaxPolicyBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return ParsePolicy(text, path.string(), options);
}

Result<Policy> ParsePolicyOrError(std::string_view text, std::string_view name,
                                  const ParseOptions& options) {
  ParseOutcome out = ParsePolicy(text, name, options);
  if (!out.ok()) {
    std::string msg = out.ToString();
    if (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return InvalidArgument(msg);
  }
  return std::move(*out.policy);
}

}  // namespace mash::policy
