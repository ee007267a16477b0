// The agency custodian's review queue (DESIGN §2 "Agency custodian", §4 step 4; docs/agent.md).
//
// When the agency's policy routes categories of an answer to a person (custodian_review or
// second_approver obligations, a never_without_custodian category, a possible match, records
// that cannot be redacted automatically), the Responder answers the other categories at once,
// marks these `review`, and keeps a review item here: the query (ids, purpose, urgency, the
// subject) and, per category, why it waits, the deciding rule, the level the policy granted,
// the policy's redactions and the content the policy would release at that level. The broker is
// told with a `review_pending` message.
//
// The custodian decides each category once, with `mash-agent review` (a separate process on the
// same database): release, release with more fields redacted, or decline with a reason. Every
// decision is a row of custodian_decisions (who, when, what, reason). Once every category of an
// item is decided the running agent builds the follow-up answer (FollowUpBody), records it in the
// disclosure log like any answer and sends it; its receipt clears the item's personal data.
//
// Tables, in the agent's SQLCipher database beside the disclosure log:
//   review_items        id (the number the custodian uses), created_at, status (pending |
//                       decided | sent | receipted), check_ref, query_id (unique), purpose,
//                       lawful_basis, consent, urgency, level asked, match, matched_on (JSON),
//                       policy_version, source, subject (JSON of the query subject; "" once the
//                       follow-up has its receipt), answer_ids (follow-up envelope ids, space
//                       separated), sent_at, chased_at (when the hub last chased the
//                       item's part, 0: never), chase_deadline (the deadline that chase named,
//                       RFC 3339 UTC; columns added to older databases by Create)
//   review_categories   item_id, category, why, rule, level granted, redacted (JSON: the
//                       policy's redactions), content (JSON: summary, latest, records as the
//                       policy would release them; {} once receipted), decision ("" while
//                       pending | released | redacted | declined), extra_redacted (JSON),
//                       reason, decided_by, decided_at
//   custodian_decisions one row per decision: time, item_id, check_ref, query_id, category,
//                       decision, fields (JSON), reason, decided_by, policy_version
//
// Unlike the rest of the disclosure log, review_items and review_categories hold personal data
// (the subject and record content) while an item is open: they stay in the agency's encrypted
// database and never reach a log line.
//
// Thread safety: none; one ReviewQueue per Database, used from one thread. Several processes may
// use the same database: Decide runs in one BEGIN IMMEDIATE transaction and decides a category
// only while it is undecided, so two custodians cannot both decide it.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/config.h"
#include "mash/agent/record_source.h"
#include "mash/common/status.h"
#include "mash/policy/evaluator.h"
#include "mash/schemas/messages.h"
#include "mash/storage/database.h"

namespace mash::agent {

struct ReviewCategory {
  std::string category;
  // custodian_review | second_approver | never_without_custodian | possible_match |
  // records_need_review
  std::string why;
  std::string rule;
  int level = 0;                      // the level the policy granted
  std::vector<std::string> redacted;  // the policy's redactions, already applied to `content`
  // What the policy would release at `level`: {"summary", "latest", "records"}, each optional.
  nlohmann::json content = nlohmann::json::object();
  // The custodian's decision: "" while pending, "released", "redacted" or "declined".
  std::string decision;
  std::vector<std::string> extra_redacted;  // fields the custodian removed as well
  std::string reason;
  std::string decided_by;
  int64_t decided_at = 0;
};

struct ReviewItem {
  int64_t id = 0;
  int64_t created_at = 0;
  std::string status = "pending";  // pending | decided | sent | receipted
  std::string check_ref;
  std::string query_id;
  std::string purpose;
  std::string lawful_basis;
  std::string consent;
  std::string urgency;
  int level = 0;  // asked
  std::string match;
  std::vector<std::string> matched_on;
  std::string policy_version;
  std::string source;
  nlohmann::json subject;  // the query subject (schemas::Person JSON); null once receipted
  std::vector<ReviewCategory> categories;
  std::vector<std::string> answer_ids;  // follow-up answers sent, oldest first
  int64_t sent_at = 0;
  // The hub's latest chase while the item was pending: when it came (0: never chased) and the
  // deadline of the agency's part it named (RFC 3339 UTC).
  int64_t chased_at = 0;
  std::string chase_deadline;
};

struct ReviewDecision {
  enum class Kind { kRelease, kRedact, kDecline };
  Kind kind = Kind::kRelease;
  std::string category;             // "" with kRelease: every category still pending
  std::vector<std::string> fields;  // kRedact: record fields (or "summary", "latest") to remove
  std::string reason;               // kDecline: required; sent to the hub. Otherwise a note.
  std::string by;                   // the custodian
};

std::string_view ReviewDecisionName(ReviewDecision::Kind kind);  // "released", ...

// Why a category the enforced `decision` does not release automatically waits for the
// custodian, with what the policy would release: the content at the granted level with the
// policy's redact:<field> obligations applied (records that are not flat objects are left out:
// they cannot be released field by field). `possible`: the subject is only a possible match.
ReviewCategory PendingReview(const policy::Policy& policy, const policy::Decision& decision,
                             const std::string& category, const CategoryRecords& held,
                             bool possible);

// The follow-up answer for a decided item: its decided categories only. Released ones carry
// the stored content minus the custodian's fields, never more than the granted level allows
// (records only at level 3, latest from 2, summary from 1, whatever the stored content holds);
// declined ones are `withheld` with "declined by the agency's custodian: <reason>".
schemas::AnswerBody FollowUpBody(const ReviewItem& item);

class ReviewQueue {
 public:
  // Creates the tables when needed, and adds the columns a database made by an earlier version
  // lacks (chased_at, chase_deadline). `db` must outlive the queue. Storage errors.
  static Result<std::unique_ptr<ReviewQueue>> Create(storage::Database* db);

  // Stores a new item (status pending; its id is assigned). AlreadyExists when the query id
  // has an item already. Storage errors.
  Result<int64_t> Add(const ReviewItem& item);
  // NotFound when there is no such item.
  Result<ReviewItem> Get(int64_t id);
  Result<std::optional<ReviewItem>> FindByQuery(const std::string& query_id);
  // Items oldest first: those still pending, or every one with `all`.
  Result<std::vector<ReviewItem>> List(bool all);
  // Items with every category decided whose follow-up has not been sent (`and_unreceipted`:
  // also those sent whose receipt has not come), oldest first.
  Result<std::vector<ReviewItem>> ReadyToSend(bool and_unreceipted);

  // Records one custodian decision and returns the item after it. Errors: NotFound (no item,
  // or no such category in it); FailedPrecondition (the item or the category is decided
  // already); InvalidArgument (decline without a reason, redact without fields or a category,
  // no custodian name); storage errors (Unavailable while another process holds the database
  // longer than the busy timeout).
  Result<ReviewItem> Decide(int64_t id, const ReviewDecision& decision, int64_t now);

  // The follow-up answer `answer_id` of item `id` was recorded and handed to the connection.
  Status MarkSent(int64_t id, const std::string& answer_id, int64_t now);
  // The hub chased pending item `id` at `now`, naming `deadline` (RFC 3339 UTC): kept on the
  // item (a later chase replaces it). FailedPrecondition when the item is not pending (or does
  // not exist); storage errors.
  Status MarkChased(int64_t id, int64_t now, const std::string& deadline);
  // A receipt for `answer_id` was accepted: when it is one of an item's follow-ups, the item is
  // receipted and its subject and content are cleared. Returns whether an item matched.
  Result<bool> OnReceipt(const std::string& answer_id);

  // What waits for the custodian (for `mash-agent status`): the items still pending and their
  // categories not decided yet. Storage errors.
  struct Awaiting {
    int64_t items = 0;
    int64_t categories = 0;
  };
  Result<Awaiting> CountAwaiting();

  // Every custodian decision, newest first, at most `limit` (for `mash-agent review log`);
  // only those made at or after `since` (Unix seconds) and, when `check_ref` is not empty, about
  // that check (for `mash-agent log`).
  Result<std::vector<nlohmann::json>> Decisions(int limit, int64_t since = 0,
                                                const std::string& check_ref = "");

 private:
  explicit ReviewQueue(storage::Database* db) : db_(db) {}
  Result<std::vector<ReviewItem>> Select(const std::string& where, int64_t bind);
  Status LoadCategories(ReviewItem& item);
  storage::Database* db_;
};

// The status `mash-agent review list` shows for `item`: its status, and for a pending item the
// hub has chased "pending, CHASED, due <deadline>".
std::string ReviewStatusText(const ReviewItem& item);

// `mash-agent review release|redact|decline`: opens the agent's database named in `config`
// (which must exist) and records `decision` on item `id` (ReviewQueue::Decide); the running
// agent picks it up within a second.
Result<ReviewItem> DecideReview(const AgentConfig& config, int64_t id,
                                const ReviewDecision& decision, int64_t now);

}  // namespace mash::agent
