// The agent's disclosure log and witness state, in the agent's SQLCipher database (DESIGN §1,
// §8; docs/agent.md). It holds no personal data: check references, ids, hashes, vocabulary ids,
// policy versions, rules and outcomes, and the hub's signed checkpoints.
//
//   disclosures     one row per answer sent: time, check_ref, answer_id (envelope header id),
//                   answer_hash (hex SHA-256 of the answer envelope's signed bytes), purpose,
//                   lawful_basis, consent (the header's consent tag), policy_version,
//                   shadow_version, level asked, held, categories (JSON: category, outcome,
//                   rule, level, redacted, reason) and shadow (JSON of shadow differences or NULL)
//   receipts        one row per verified receipt: answer_id, time, seq, leaf_hash (hex),
//                   checkpoint (text), receipt (JSON)
//   witness_state   name/value: "checkpoint" = the newest checkpoint verified
//   witness_alarms  every alarm: raised_at, reason, held and presented checkpoints, cleared_at
//                   (NULL while raised)
//
// The custodian review queue and the custodian's decisions (review_items, review_categories,
// custodian_decisions) live in the same database: review_queue.h.
//
// Thread safety: none; the owner of the Database uses it from one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "mash/agent/config.h"
#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace mash::agent {

struct DisclosureRecord {
  int64_t time = 0;
  std::string check_ref;
  std::string answer_id;
  std::string answer_hash;
  std::string purpose;
  std::string lawful_basis;
  std::string consent;
  std::string policy_version;
  std::string shadow_version;  // "" without a shadow policy
  int level = 0;
  bool held = false;
  nlohmann::json categories = nlohmann::json::array();
  nlohmann::json shadow;  // null when the shadow version agreed (or there is none)
};

struct ReceiptRecord {
  std::string answer_id;
  int64_t time = 0;
  uint64_t seq = 0;
  std::string leaf_hash;  // hex
  std::string checkpoint;
  std::string receipt;  // JSON text
};

struct AlarmRecord {
  int64_t raised_at = 0;
  std::string reason;
  std::string held_checkpoint;
  std::string presented_checkpoint;
  std::optional<int64_t> cleared_at;
};

class DisclosureLog {
 public:
  // Creates the tables when needed. `db` must outlive the log. Storage errors.
  static Result<std::unique_ptr<DisclosureLog>> Create(storage::Database* db);

  // AlreadyExists when the answer id was recorded before; storage errors otherwise.
  Status RecordAnswer(const DisclosureRecord& record);
  // Puts `record` (a new envelope for the same check) in place of the answer `old_answer_id`,
  // which never reached the hub: one disclosure per query. Storage errors.
  Status ReplaceAnswer(const std::string& old_answer_id, const DisclosureRecord& record);
  // The answer sent with this envelope id. NotFound when this agent sent no such answer.
  Result<DisclosureRecord> FindAnswer(const std::string& answer_id);
  // Newest first, at most `limit`.
  Result<std::vector<DisclosureRecord>> RecentAnswers(int limit);
  // Answers sent at or after `since` (Unix seconds), only those of `check_ref` when it is not
  // empty: the newest `limit`, returned oldest first (`mash-agent log`).
  Result<std::vector<DisclosureRecord>> AnswersSince(int64_t since, const std::string& check_ref,
                                                     int limit);

  // Stores a verified receipt and the checkpoint the witness now holds, in one transaction.
  // AlreadyExists when the answer already has a receipt.
  // `within`, when given, runs first inside the same transaction (the receipt's replay record:
  // one sync for both); its error rolls everything back.
  Status RecordReceipt(const ReceiptRecord& receipt, const std::string& held_checkpoint,
                       const std::function<Status()>& within = nullptr);
  Result<std::optional<ReceiptRecord>> FindReceipt(const std::string& answer_id);

  Status SaveCheckpoint(const std::string& text);
  Result<std::optional<std::string>> LoadCheckpoint();

  Status RaiseAlarm(const AlarmRecord& alarm);
  // The alarm still raised (the oldest not cleared), if any.
  Result<std::optional<AlarmRecord>> ActiveAlarm();
  // Operator reset: marks every raised alarm cleared at `now` and forgets the held checkpoint,
  // in one transaction. Returns the number of alarms cleared.
  Result<int64_t> ClearAlarms(int64_t now);

 private:
  explicit DisclosureLog(storage::Database* db) : db_(db) {}
  storage::Database* db_;
};

// `mash-agent audit-reset`: opens the agent's database (the agent must be stopped), clears the
// witness alarm and forgets the held checkpoint, so that the next checkpoint the hub presents is
// trusted on first use. The alarms stay in witness_alarms with their cleared time. Returns the
// number of alarms cleared; storage errors.
Result<int64_t> ResetAuditWitness(const AgentConfig& config, int64_t now);

}  // namespace mash::agent
