// Audit events (DESIGN §8) and their canonical encoding (docs/audit-format.md).
//
// An event records who (person, role, organisation), which agency, about whom (subject
// pseudonyms "ps1:<hex>", never plain identities), why (purpose, lawful basis, consent or override
// ground, justification reference), what (level, categories with their disposition and reason),
// the deciding rule and policy version, hashes of the signed envelopes, and the outcome.
//
// The encoding is versioned and length-prefixed: the same event always encodes to the same
// bytes, and Decode accepts exactly the bytes Encode produces (no trailing data, every length
// checked before use), so the leaf hash of an event is well defined.
//
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/encoding.h"
#include "mash/common/status.h"

namespace mash::audit {

using common::Bytes;

inline constexpr uint8_t kEventEncodingVersion = 1;
inline constexpr size_t kMaxEventBytes = 64 * 1024;
inline constexpr size_t kMaxFieldBytes = 4096;
inline constexpr size_t kMaxListItems = 256;

enum class EventType {
  kCheckRaised,
  kCheckAuthorised,
  kCheckRejected,
  kQuerySent,
  kAnswerReceived,
  kCategoryDisclosed,
  kCategoryWithheld,
  kCustodianDecision,
  kResultViewed,
  kExported,
  kMashDecisionRecorded,
  kPolicyPublished,
  kUserChanged,
  kKeyChanged,
  kRequestRefused,
  kRequestFailed,
  kRetentionPurge,
  // An agency said that categories of its answer wait for its custodian (review_pending).
  kReviewPending,
  // The hub chased an agency whose part is still open as its deadline nears.
  kAgencyChased,
  // An agency's part passed its deadline unanswered (or still in custodian review).
  kDeadlineBreached,
  // An IG officer or DPO closed an alert of the IG alert queue with a note (before the queue had
  // statuses, acknowledging an override's alert).
  kAlertAcknowledged,
  // The hub raised an alert for the IG alert queue (an override, out-of-hours use, unusual
  // volume); the person is the member of staff it concerns.
  kAlertRaised,
  // An IG officer or DPO moved an alert to under_review or escalated (closing is
  // alert_acknowledged).
  kAlertStatusChanged,
};
std::string_view EventTypeName(EventType t);  // e.g. "check_raised"
std::optional<EventType> ParseEventType(std::string_view name);
const std::vector<EventType>& AllEventTypes();

enum class Outcome { kOk, kRefused, kFailed, kRejected, kWithheld, kPartial };
std::string_view OutcomeName(Outcome o);  // "ok", "refused", ...
std::optional<Outcome> ParseOutcome(std::string_view name);

struct CategoryEntry {
  std::string category;     // e.g. "police.domestic_abuse"
  std::string disposition;  // "disclosed" | "withheld" | "redacted" | "custodian_review" | ...
  std::string reason;       // why withheld or redacted (a reason code or rule id)
  bool operator==(const CategoryEntry&) const = default;
};

struct AuditEvent {
  // Assigned by the log when the event is committed; ignored on Append.
  uint64_t seq = 0;
  int64_t time_ms = 0;  // Unix milliseconds, from the log's clock

  EventType type = EventType::kRequestFailed;
  Outcome outcome = Outcome::kOk;
  // Who.
  std::string person;        // staff user id or agent id
  std::string role;          // e.g. "practitioner", "manager", "custodian", "agent"
  std::string organisation;  // e.g. "hub", "police"
  // Which agency the event concerns.
  std::string agency;
  // About whom: subject pseudonyms (crypto::Pseudonymiser), never plain identities.
  std::vector<std::string> subjects;
  std::string check_ref;
  // Why.
  std::string purpose;
  std::string lawful_basis;
  std::string consent;          // "given" | "refused" | "not_sought" | "withdrawn" | ""
  std::string override_ground;  // one of the four grounds, or ""
  std::string justification_ref;
  // What.
  int32_t level = -1;  // highest disclosure level, -1 when none applies
  std::vector<CategoryEntry> categories;
  // Deciding rule and policy version.
  std::string rule;
  std::string policy_version;
  // SHA-256 of each signed envelope involved (32 bytes each).
  std::vector<Bytes> envelope_hashes;
  // A short code or note without personal data (e.g. an error code).
  std::string detail;

  bool operator==(const AuditEvent&) const = default;
};

// Checks field limits and vocabulary: InvalidArgument naming the field (never its value).
Status ValidateEvent(const AuditEvent& e);
// The canonical encoding. InvalidArgument when ValidateEvent fails.
Result<Bytes> EncodeEvent(const AuditEvent& e);
// EncodeEvent for an event that already passed ValidateEvent (the log validates on the caller's
// thread at Append, and encodes on the committer). Only the total size is checked again.
Result<Bytes> EncodeValidatedEvent(const AuditEvent& e);
// Strict decoder: DataLoss on any malformed input (bad version, short or overlong field, unknown
// type, trailing bytes).
Result<AuditEvent> DecodeEvent(std::span<const uint8_t> encoded);

// A readable JSON object (hashes in hex), for query output and exports.
nlohmann::json EventToJson(const AuditEvent& e);

}  // namespace mash::audit
