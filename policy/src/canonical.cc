// The canonical form of a policy: JSON with sorted keys and no whitespace (nlohmann's object is
// an ordered map, and dump() without indent adds no spaces). Sets are sorted; rules keep the
// order of the file, which decides ties. Comments, whitespace, key order and the spelling of
// sugar (review = "custodian" vs obligations = ["custodian_review"]) do not reach it.
#include <nlohmann/json.hpp>

#include "mash/common/encoding.h"
#include "mash/crypto/keys.h"
#include "mash/policy/policy.h"
#include "mash/policy/time_text.h"

namespace mash::policy {
namespace {

using nlohmann::json;

void PutCondition(json& when, const char* key, const Condition& c) {
  if (!c.any) when[key] = c.values;
}

}  // namespace

std::string CanonicalJson(const Policy& p) {
  json j;
  j["format"] = "mash-policy-v1";
  j["kind"] = PolicyKindName(p.kind);
  j["id"] = p.id;
  j["title"] = p.title;
  j["owner"] = p.owner;
  j["review_date"] = p.review_date;
  if (p.kind == PolicyKind::kSharingAgreement) {
    j["purposes"] = p.purposes;
    j["lawful_bases"] = p.lawful_bases;
    json parties = json::array();
    for (const auto& party : p.parties) {
      parties.push_back({{"id", party.id}, {"type", party.type}, {"name", party.name}});
    }
    j["parties"] = parties;
  } else {
    j["agency_type"] = p.agency_type;
    j["never_without_custodian"] = p.never_without_custodian;
  }
  if (p.has_overrides) {
    j["overrides"] = {{"grounds", p.override_grounds_allowed.values},
                      {"obligations", p.override_obligations}};
  }
  json rules = json::array();
  for (const auto& r : p.rules) {
    json rule;
    rule["id"] = r.id;
    rule["effect"] = RuleEffectName(r.effect);
    rule["description"] = r.description;
    json when = json::object();
    PutCondition(when, "roles", r.roles);
    PutCondition(when, "purposes", r.purposes);
    PutCondition(when, "lawful_bases", r.lawful_bases);
    PutCondition(when, "consent_states", r.consent_states);
    PutCondition(when, "override_grounds", r.override_grounds);
    PutCondition(when, "urgencies", r.urgencies);
    PutCondition(when, "agencies", r.agencies);
    PutCondition(when, "categories", r.categories);
    rule["when"] = when;
    rule["min_level"] = r.min_level;
    if (r.effect != RuleEffect::kForbid) rule["max_level"] = r.max_level;
    if (r.valid_from) rule["valid_from"] = FormatTime(*r.valid_from);
    if (r.valid_until) rule["valid_until"] = FormatTime(*r.valid_until);
    rule["obligations"] = r.obligations;
    rules.push_back(std::move(rule));
  }
  j["rules"] = rules;
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string VersionOf(std::string_view canonical) {
  return "sha256:" + common::HexEncode(crypto::Sha256(common::AsBytes(canonical)));
}

}  // namespace mash::policy
