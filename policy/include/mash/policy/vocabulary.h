// The controlled vocabulary of sharing policies (DESIGN §7): purposes, lawful bases, consent
// states, override grounds, urgencies with their deadlines, disclosure levels, roles and each
// agency type's data categories. The built-in vocabulary is schemas/vocabulary/vocabulary.json,
// compiled into the library.
//
// Thread safety: a Vocabulary is immutable after construction; Builtin() is safe from any thread.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"

namespace mash::policy {

// The vocabulary lists a policy condition can name. Each is small (at most 64 terms) so that a
// condition is a 64-bit set.
enum class Dimension {
  kRole = 0,
  kPurpose,
  kLawfulBasis,
  kConsentState,
  kOverrideGround,
  kUrgency,
  kCategory,
};
inline constexpr int kDimensionCount = 7;
inline constexpr size_t kMaxTermsPerDimension = 63;  // bit 63 is kept for "none"

// "role", "purpose", "lawful basis", ... for messages.
std::string_view DimensionName(Dimension d);

struct Term {
  std::string id;
  std::string name;
  int deadline_hours = 0;   // urgencies only
  std::string agency_type;  // categories only: the agency type that holds it
};

struct AgencyType {
  std::string id;
  std::string name;
  std::vector<std::string> categories;
};

inline constexpr int kMinLevel = 0;
inline constexpr int kMaxLevel = 3;

class Vocabulary {
 public:
  // The compiled-in vocabulary. Aborts if it does not parse (a build defect, caught by tests).
  static const Vocabulary& Builtin();
  // Parses a vocabulary document. InvalidArgument naming the first problem.
  static Result<Vocabulary> FromJson(std::string_view text);

  const std::vector<Term>& Terms(Dimension d) const { return terms_[static_cast<int>(d)]; }
  // Index of `id` in Terms(d), or -1.
  int IndexOf(Dimension d, std::string_view id) const;
  const std::vector<AgencyType>& agency_types() const { return agency_types_; }
  const AgencyType* FindAgencyType(std::string_view id) const;
  // "discovery", "involvement", "relevant-summary", "specified-records".
  std::string_view LevelName(int level) const;

 private:
  std::array<std::vector<Term>, kDimensionCount> terms_;
  std::vector<AgencyType> agency_types_;
  std::array<std::string, 4> level_names_;
};

// True for the obligations the engine knows: custodian_review, notify_custodian,
// second_approver, record_reason and redact:<field> with field [a-z][a-z0-9_]{0,47}.
bool IsKnownObligation(std::string_view obligation);

}  // namespace mash::policy
