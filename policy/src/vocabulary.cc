#include "mash/policy/vocabulary.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace mash::policy {
namespace internal {
std::string_view EmbeddedVocabularyText();
}

namespace {

constexpr const char* kDimensionKeys[kDimensionCount] = {
    "roles", "purposes", "lawful_bases", "consent_states", "override_grounds", "urgencies", ""};

Status ReadTerms(const nlohmann::json& list, const char* key, bool urgency,
                 std::vector<Term>* out) {
  if (!list.is_array()) return InvalidArgument(std::string("vocabulary: ") + key + " not a list");
  for (const auto& t : list) {
    if (!t.is_object() || !t.contains("id") || !t["id"].is_string() || !t.contains("name") ||
        !t["name"].is_string()) {
      return InvalidArgument(std::string("vocabulary: bad term in ") + key);
    }
    Term term;
    term.id = t["id"].get<std::string>();
    term.name = t["name"].get<std::string>();
    if (urgency) {
      if (!t.contains("deadline_hours") || !t["deadline_hours"].is_number_integer()) {
        return InvalidArgument("vocabulary: urgency " + term.id + " has no deadline_hours");
      }
      term.deadline_hours = t["deadline_hours"].get<int>();
    }
    for (const auto& other : *out) {
      if (other.id == term.id) return InvalidArgument("vocabulary: duplicate id " + term.id);
    }
    out->push_back(std::move(term));
  }
  if (out->size() > kMaxTermsPerDimension) {
    return InvalidArgument(std::string("vocabulary: too many terms in ") + key);
  }
  return Status::Ok();
}

}  // namespace

std::string_view DimensionName(Dimension d) {
  switch (d) {
    case Dimension::kRole:
      return "role";
    case Dimension::kPurpose:
      return "purpose";
    case Dimension::kLawfulBasis:
      return "lawful basis";
    case Dimension::kConsentState:
      return "consent state";
    case Dimension::kOverrideGround:
      return "override ground";
    case Dimension::kUrgency:
      return "urgency";
    case Dimension::kCategory:
      return "data category";
  }
  return "?";
}

Result<Vocabulary> Vocabulary::FromJson(std::string_view text) {
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return InvalidArgument("vocabulary: not JSON");
  Vocabulary v;
  for (int i = 0; i < kDimensionCount; ++i) {
    const char* key = kDimensionKeys[i];
    if (*key == '\0') continue;
    if (!doc.contains(key)) return InvalidArgument(std::string("vocabulary: no ") + key);
    MASH_RETURN_IF_ERROR(
        ReadTerms(doc[key], key, i == static_cast<int>(Dimension::kUrgency), &v.terms_[i]));
  }
  if (!doc.contains("agency_types") || !doc["agency_types"].is_array()) {
    return InvalidArgument("vocabulary: no agency_types");
  }
  auto& categories = v.terms_[static_cast<int>(Dimension::kCategory)];
  for (const auto& a : doc["agency_types"]) {
    if (!a.is_object() || !a.contains("id") || !a["id"].is_string() || !a.contains("categories")) {
      return InvalidArgument("vocabulary: bad agency type");
    }
    AgencyType type;
    type.id = a["id"].get<std::string>();
    type.name = a.value("name", type.id);
    std::vector<Term> cats;
    MASH_RETURN_IF_ERROR(ReadTerms(a["categories"], "categories", false, &cats));
    for (auto& c : cats) {
      for (const auto& other : categories) {
        if (other.id == c.id) return InvalidArgument("vocabulary: duplicate category " + c.id);
      }
      c.agency_type = type.id;
      type.categories.push_back(c.id);
      categories.push_back(std::move(c));
    }
    v.agency_types_.push_back(std::move(type));
  }
  if (categories.size() > kMaxTermsPerDimension) {
    return InvalidArgument("vocabulary: too many categories");
  }
  if (!doc.contains("levels") || !doc["levels"].is_array() || doc["levels"].size() != 4) {
    return InvalidArgument("vocabulary: levels must list 0..3");
  }
  for (const auto& l : doc["levels"]) {
    if (!l.contains("level") || !l["level"].is_number_integer() || !l.contains("id")) {
      return InvalidArgument("vocabulary: bad level");
    }
    const int n = l["level"].get<int>();
    if (n < kMinLevel || n > kMaxLevel) return InvalidArgument("vocabulary: bad level");
    v.level_names_[static_cast<size_t>(n)] = l["id"].get<std::string>();
  }
  return v;
}

const Vocabulary& Vocabulary::Builtin() {
  static const Vocabulary* const kBuiltin = [] {
    auto v = FromJson(internal::EmbeddedVocabularyText());
    if (!v.ok()) {
      std::fprintf(stderr, "mash: built-in vocabulary broken: %s\n", v.status().message().c_str());
      std::abort();
    }
    return new Vocabulary(std::move(*v));
  }();
  return *kBuiltin;
}

int Vocabulary::IndexOf(Dimension d, std::string_view id) const {
  const auto& terms = Terms(d);
  for (size_t i = 0; i < terms.size(); ++i) {
    if (terms[i].id == id) return static_cast<int>(i);
  }
  return -1;
}

const AgencyType* Vocabulary::FindAgencyType(std::string_view id) const {
  for (const auto& t : agency_types_) {
    if (t.id == id) return &t;
  }
  return nullptr;
}

std::string_view Vocabulary::LevelName(int level) const {
  if (level < kMinLevel || level > kMaxLevel) return "?";
  return level_names_[static_cast<size_t>(level)];
}

bool IsKnownObligation(std::string_view o) {
  if (o == "custodian_review" || o == "notify_custodian" || o == "second_approver" ||
      o == "record_reason") {
    return true;
  }
  constexpr std::string_view kRedact = "redact:";
  if (o.substr(0, kRedact.size()) != kRedact) return false;
  const std::string_view field = o.substr(kRedact.size());
  if (field.empty() || field.size() > 48 || field[0] < 'a' || field[0] > 'z') return false;
  for (char c : field) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace mash::policy
