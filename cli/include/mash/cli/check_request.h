// Building and presenting checks for `mashctl check`: the request body of POST /api/v1/checks
// from command-line flags or a file, the rules the broker applies beyond the JSON Schema, and the
// human-readable form of a check and of the agency list.
//
// Pure: no I/O besides the output stream given. Thread safety: free functions on values.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "mash/common/status.h"

namespace mash::cli {

// The flags of `mashctl check raise`. Empty strings and vectors mean "not given".
struct RaiseFlags {
  std::string nhs_number;
  std::string pnc_id;
  std::string upn;
  std::string ni_number;
  std::string given_names;
  std::string family_name;
  std::string dob;  // YYYY-MM-DD
  std::string sex;  // female | male | other | unknown
  std::vector<std::string> postcodes;
  std::string purpose;
  std::string lawful_basis;
  std::string consent;  // given | refused | not_sought | withdrawn
  std::string evidence_ref;
  std::string override_ground;
  std::string justification;
  std::string urgency;  // red | amber | green
  std::optional<int> level;
  std::vector<std::string> agencies;
  std::vector<std::string> categories;
};

// The request body for POST /api/v1/checks, built from flags and checked by CheckRaiseRequest.
Result<nlohmann::json> BuildRaiseRequest(const RaiseFlags& flags);

// Validates a request body against schemas/api/check-request.schema.json and the rules the broker
// applies on top (the same as broker::RaiseRequest::FromJson): consent given needs an evidence
// reference and allows no override ground; without consent an override ground and a
// justification are required; the subject needs an identifier, or a family name and a date of
// birth; a date of birth must be a calendar date. InvalidArgument naming the field (never its
// value).
Status CheckRaiseRequest(const nlohmann::json& body);

// True for a check id as the broker makes them: 32 lower-case hex digits.
bool IsCheckId(std::string_view id);

// True when no agency part of `check` (GET /api/v1/checks/{id}) is still open, i.e. in state
// "waiting_for_agent" or "sent" (a part awaiting_agency_review has answered what its policy
// releases automatically; its custodian may take hours).
bool IsSettled(const nlohmann::json& check);
// The number of agency parts that ended without an answer ("no_answer", "failed").
int UnansweredParts(const nlohmann::json& check);

// Writes `check` for people: id, state, purpose, urgency, then one block per agency with its
// state, elapsed_ms, held, match band, matched_on and each category's outcome with its summary or
// reason. Missing or mistyped fields print as "-"; control characters from the broker are
// replaced so that they cannot drive the terminal.
void PrintCheck(const nlohmann::json& check, std::ostream& out);
// Writes the agency list (GET /api/v1/agencies) as a table: id, name, type, online/offline.
void PrintAgencies(const nlohmann::json& reply, std::ostream& out);

}  // namespace mash::cli
