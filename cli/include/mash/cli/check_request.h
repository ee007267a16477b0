// Building and presenting checks for `mashctl check`: the request body of POST /api/v1/checks
// from command-line flags or a file, the rules the broker applies beyond the JSON Schema, and the
// human-readable form of a check and of the agency list.
//
// Pure: no I/O besides the output stream given. Thread safety: free functions on values.
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
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

// Text from the broker made safe for a terminal: control characters (C0, DEL, and the C1 controls
// U+0080..U+009F in their UTF-8 form) become '?'; other bytes pass, so UTF-8 names print as they
// are.
std::string SafeForTerminal(std::string_view text);

// True for a check id as the broker makes them: 32 lower-case hex digits.
bool IsCheckId(std::string_view id);

// True when `check` (GET /api/v1/checks/{id}) is closed by its MASH decision, or when no agency
// part of it is still open, i.e. in state "waiting_for_agent" or "sent" (a part
// awaiting_agency_review has answered what its policy releases automatically; its custodian may
// take hours).
bool IsSettled(const nlohmann::json& check);
// The number of agency parts that ended without an answer ("no_answer", "failed").
int UnansweredParts(const nlohmann::json& check);

// The MASH decision (POST /api/v1/checks/{id}/decision): the outcomes the broker accepts and the
// rationale's length in bytes, as broker::CheckService::Decide checks them.
inline constexpr size_t kMinRationale = 10;
inline constexpr size_t kMaxRationale = 4000;
// True for information_and_advice, early_help, child_and_family_assessment,
// strategy_discussion and no_further_action.
bool IsMashOutcome(std::string_view outcome);
// The body {"outcome", "rationale"}; InvalidArgument naming the flag (never the text) when the
// outcome is not one of the five or the rationale is shorter or longer than allowed.
Result<nlohmann::json> BuildDecisionRequest(const std::string& outcome,
                                            const std::string& rationale);

// Writes `check` for people: id, state, team, purpose, urgency, due time (OVERDUE past it),
// household size, consent evidence or override ground with its justification, authorisation,
// who has not answered, the MASH decision (or, when answered and undecided, the `check decide`
// command to record it), then one block per agency with its state, chasing, breach, elapsed_ms,
// held, match band, matched_on and each category's outcome with its name, summary or reason and
// the broker's plain-words "why". Missing or mistyped fields print as "-" or not at all;
// control characters from the broker are replaced so that they cannot drive the terminal.
void PrintCheck(const nlohmann::json& check, std::ostream& out);
// Writes the check list (GET /api/v1/checks) as a table: id, state ("(override)" marked),
// urgency, due time with OVERDUE, breaches, purpose, raised_by, outcome; "no checks" when empty.
void PrintCheckList(const nlohmann::json& reply, std::ostream& out);
// Writes one alert (GET /api/v1/alerts/{id}, POST .../status or .../acknowledgement) or the alert
// queue (GET /api/v1/alerts) as blocks: id, kind and status, whom it concerns and when, the hub's
// summary, the check; for an override the ground, justification and the manager's authorisation;
// each status change with who made it and their note; while not closed, the command to move it
// on. "no alerts" when the queue is empty.
void PrintAlert(const nlohmann::json& alert, std::ostream& out);
void PrintAlerts(const nlohmann::json& reply, std::ostream& out);
// Writes the agency list (GET /api/v1/agencies) as a table: id, name, type, online/offline.
void PrintAgencies(const nlohmann::json& reply, std::ostream& out);

}  // namespace mash::cli
