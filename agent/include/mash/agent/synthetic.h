// Synthetic records for the demo, the matcher tests and the match benchmark: families whose
// members appear across the six agency types, each agency holding its own imperfect copy of the
// person, and the truth (which records are the same person).
//
// Deterministic: the same SyntheticOptions always give the same records, on every platform
// (std::mt19937_64 with the options' seed, and only integer draws turned into choices by our
// own code, never std::*_distribution, whose output is implementation-defined).
//
// Realistic errors, each at the rate in SyntheticOptions: nicknames (Bill for William), typos
// (substitution, transposition, deletion) in given and family names, day and month swapped,
// one digit of the date of birth wrong, missing date of birth, sex or postcode, an old address
// (moved, often within the same district; up-to-date records often keep the previous address
// too), a married woman known by her birth name at one
// agency and her married name at another (sometimes with the other as an alias), middle names
// present or not, NHS numbers mistyped (which then fail their check digit), and strangers who
// share a common name, date of birth and sex with someone but are a different person.
//
// Identifier coverage per agency (a record carries the person's identifier with probability):
//   health nhs 0.99; social-care nhs 0.85, upn 0.3; education upn 0.97, nhs 0.4;
//   police pnc 0.95 (20% of adults, 5% of teenagers have one), nhs 0.2, ni 0.3;
//   probation pnc 0.95, ni 0.7, nhs 0.3; housing ni 0.6, nhs 0.1.
// So about two pairs in three of the same person across agencies share no identifier and are
// matched on demographics alone.
//
// Nothing here is real: names come from common-name lists, postcodes are shaped like UK ones
// with random units, NHS numbers are random with a valid check digit.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "mash/agent/matcher.h"
#include "mash/schemas/messages.h"

namespace mash::agent {

// The six agency types, as in examples/records/<type>.json.
inline constexpr std::string_view kAgencyTypes[] = {"police",    "social-care", "health",
                                                    "education", "probation",   "housing"};

struct SyntheticOptions {
  uint64_t seed = 20261122;
  size_t families = 1000;
  double nickname_rate = 0.08;     // given name recorded as a familiar form, where one exists
  double given_typo_rate = 0.03;   // one edit in the given name
  double family_typo_rate = 0.03;  // one edit in the family name
  double dob_swap_rate = 0.02;     // day and month swapped (only when both are ≤ 12)
  double dob_digit_rate = 0.02;    // one digit of YYYYMMDD changed
  double dob_missing_rate = 0.03;  // no date of birth
  double sex_missing_rate = 0.05;  // no sex
  double postcode_missing_rate = 0.03;
  double moved_rate = 0.12;           // the previous address, not the current one
  double address_history_rate = 0.5;  // an up-to-date record also keeps the previous address
  double nhs_typo_rate = 0.015;       // one digit of the NHS number mistyped
  // Persons with a common name (one of the 30 commonest surnames and 16 commonest first names
  // of the built-in lists) given a stranger with the same name, date of birth and sex: such
  // collisions happen among common names, hardly ever among rare ones.
  double stranger_rate = 0.1;
};

struct SyntheticRecord {
  std::string record_id;  // "<agency>/<7 digits>", unique across agencies
  std::string agency;     // one of kAgencyTypes
  std::string person_id;  // the truth: "P<8 digits>"
  schemas::Person person;
  nlohmann::json categories;  // {"<category>": {"summary", "latest"}} as in examples/records
};

// Calls `sink` once per record, family by family, in a deterministic order. Memory stays
// proportional to one family, so a million records can be streamed.
void GenerateSynthetic(const SyntheticOptions& options,
                       const std::function<void(SyntheticRecord&&)>& sink);
std::vector<SyntheticRecord> GenerateSynthetic(const SyntheticOptions& options);

// A record in the format of examples/records/*.json, plus "id" and "person" (the
// schemas::Person JSON of the subject as this agency holds it).
nlohmann::json SyntheticRecordJson(const SyntheticRecord& record);
// The display name of an agency type's record system, e.g. "Police records management system
// (synthetic)".
std::string SyntheticSource(std::string_view agency);

// Match quality on labelled records: every record is looked up, as a query, in the index of
// every other agency; a pair is true when both records have the same person_id.
struct MatchQuality {
  size_t queries = 0;
  size_t true_pairs = 0;         // (query, record) pairs of the same person across agencies
  size_t confirmed = 0;          // pairs answered CONFIRMED
  size_t confirmed_correct = 0;  // ... of which the same person
  size_t possible = 0;           // pairs answered POSSIBLE (sent to custodian review)
  size_t possible_correct = 0;
  size_t candidates = 0;  // records compared over all lookups
  double precision() const {
    return confirmed == 0 ? 1.0 : static_cast<double>(confirmed_correct) / confirmed;
  }
  double recall() const {
    return true_pairs == 0 ? 1.0 : static_cast<double>(confirmed_correct) / true_pairs;
  }
};
MatchQuality EvaluateMatching(const std::vector<SyntheticRecord>& records,
                              const MatchThresholds& thresholds = {});

}  // namespace mash::agent
