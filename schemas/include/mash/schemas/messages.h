// The broker ⇄ agent messages (DESIGN §5) and their JSON codec.
//
// A frame is one WebSocket text message holding one JSON object with "type" and "v". ParseFrame
// checks the size and nesting before parsing, parses without exceptions, and validates the
// object against the schema of its type before any field is read; the typed FromJson functions
// below may only be given documents that passed it.
//
// Pure: no clock, no I/O. Thread safety: values and free functions.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"

namespace mash::schemas {

inline constexpr int kProtocolVersion = 1;
// Limits checked before anything is allocated for a message (the WebSocket layer enforces
// kMaxFrameBytes on the frame header; CheckJsonShape enforces both again on the text).
inline constexpr size_t kMaxFrameBytes = 1 << 20;
inline constexpr int kMaxJsonDepth = 12;

enum class MessageType {
  kHello,
  kWelcome,
  kQuery,
  kAnswer,
  kReceipt,
  kPing,
  kError,
  kReviewPending,
  kChase
};
std::string_view MessageTypeName(MessageType t);

struct Frame {
  MessageType type;
  nlohmann::json doc;  // validated against the schema of `type`
};

// InvalidArgument for malformed, unknown-type, wrong-version or schema-invalid frames;
// ResourceExhausted when over kMaxFrameBytes. Messages never hold the frame's content.
Result<Frame> ParseFrame(std::string_view text);

struct Checkpoint {
  int64_t size = 0;
  std::string root;  // 64 hex
};

struct Hello {
  std::string agency;
  std::vector<int> versions = {kProtocolVersion};
  std::string sign_key;  // fingerprints
  std::string enc_key;
  std::string software;
  std::optional<Checkpoint> checkpoint;
  nlohmann::json ToJson() const;
  static Hello FromJson(const nlohmann::json& validated);
};

// What the broker shows a connecting agent of its audit log: its newest signed checkpoint and,
// when the agent's hello named an older one, the consistency proof from that size (base64
// hashes, docs/audit-format.md).
struct WelcomeAudit {
  std::string checkpoint;        // signed checkpoint text
  int64_t consistency_from = 0;  // 0: no proof
  std::vector<std::string> consistency_proof;
};

struct Welcome {
  int version = kProtocolVersion;
  std::string hub;
  std::string sign_key;
  std::string enc_key;
  int ping_interval_s = 20;
  std::optional<WelcomeAudit> audit;
  nlohmann::json ToJson() const;
  static Welcome FromJson(const nlohmann::json& validated);
};

struct Ping {
  std::string nonce;  // 16 hex
  bool reply = false;
  nlohmann::json ToJson() const;
  static Ping FromJson(const nlohmann::json& validated);
};

struct ErrorMessage {
  std::string code;  // bad_request | unauthorised | unavailable | too_many | version
  std::string message = "cannot process request";
  std::optional<std::string> ref;
  nlohmann::json ToJson() const;
  static ErrorMessage FromJson(const nlohmann::json& validated);
};

// query / answer / receipt / review_pending / chase frames: {"type", "v", "envelope":
// SealedEnvelope JSON}.
nlohmann::json EnvelopeFrame(MessageType type, nlohmann::json envelope);

struct Person {
  std::string given_names;
  std::string family_name;
  std::vector<std::string> aliases;
  std::string dob;  // YYYY-MM-DD or ""
  std::string sex;  // female | male | other | unknown | ""
  std::vector<std::string> postcodes;
  std::map<std::string, std::string> identifiers;  // nhs_number, pnc_id, upn, ni_number
  nlohmann::json ToJson() const;
  static Person FromJson(const nlohmann::json& validated);
};

struct QueryBody {
  std::string query_id;
  int level = 0;  // 0 discovery, 1 involvement, 2 relevant summary, 3 specified records
  Person subject;
  std::vector<Person> household;
  std::vector<std::string> categories;
  nlohmann::json ToJson() const;
  // Parses and validates decrypted bytes against query-body.
  static Result<QueryBody> Parse(std::string_view plaintext);
};

struct CategoryAnswer {
  std::string category;
  std::string outcome;  // shared | redacted | withheld | review
  std::string summary;
  std::string reason;
  nlohmann::json records = nlohmann::json::array();
  std::string latest;                 // date of the latest record, YYYY-MM-DD
  int level = -1;                     // the level released (shared, redacted); -1: not given
  std::string rule;                   // the deciding rule of the agency's policy
  std::vector<std::string> redacted;  // fields removed from every record object
  nlohmann::json ToJson() const;
};

// What an agency holds about one household member of the query (QueryBody::household): whether
// it holds a record and how well it matched, never content.
struct HouseholdAnswer {
  int index = 0;  // the member's position in the query's household
  bool held = false;
  std::string match = "none";  // confirmed | possible | none
  std::vector<std::string> matched_on;
  nlohmann::json ToJson() const;
};

struct AnswerBody {
  std::string query_id;
  bool held = false;
  std::string match = "none";  // confirmed | possible | none
  std::vector<std::string> matched_on;
  std::vector<CategoryAnswer> categories;
  std::string policy_version;
  std::string source;
  // Present when the agency's record source looked the query's household up (optional on the
  // wire; empty: not looked up or no household asked).
  std::vector<HouseholdAnswer> household;
  nlohmann::json ToJson() const;
  static Result<AnswerBody> Parse(std::string_view plaintext);
};

// The decrypted body of a receipt envelope (receipt-body.schema.json).
struct ReceiptBody {
  std::string answer_id;    // the answer envelope's header id
  std::string answer_hash;  // hex SHA-256 of the answer envelope's signed bytes
  std::string event;        // base64 of the canonical answer_received audit event
  nlohmann::json receipt;   // audit::Receipt JSON (validated against the schema)
  nlohmann::json ToJson() const;
  static Result<ReceiptBody> Parse(std::string_view plaintext);
};

// One category of a review_pending body: its name, why it waits for the agency's custodian
// (custodian_review | second_approver | never_without_custodian | possible_match |
// records_need_review) and the deciding rule of the agency's policy.
struct PendingCategory {
  std::string category;
  std::string why;
  std::string rule;
};

// The decrypted body of a review_pending envelope (review-pending-body.schema.json): the
// categories of the query `query_id` whose answer waits for the agency's custodian.
struct ReviewPendingBody {
  std::string query_id;
  std::vector<PendingCategory> categories;
  std::string policy_version;
  nlohmann::json ToJson() const;
  static Result<ReviewPendingBody> Parse(std::string_view plaintext);
};

// The decrypted body of a chase envelope (chase-body.schema.json): the hub reminds the agency
// that its part of the check (the header's check_ref), asked with query `query_id`, is due by
// `deadline` and still waits. Ids and vocabulary only; the agent sends nothing back.
struct ChaseBody {
  std::string query_id;  // 32 hex
  std::string deadline;  // RFC 3339 UTC, as common::FormatRfc3339 writes it
  std::string urgency;   // red | amber | green
  std::string state;     // unanswered | awaiting_review
  nlohmann::json ToJson() const;
  // Parses and validates decrypted bytes against chase-body. InvalidArgument otherwise.
  static Result<ChaseBody> Parse(std::string_view plaintext);
};

}  // namespace mash::schemas
