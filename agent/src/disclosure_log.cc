#include "mash/agent/disclosure_log.h"

#include <algorithm>

#include "mash/common/log.h"

namespace mash::agent {
namespace {

// SQLCipher 3.4.1 (SQLite 3.15): no UPSERT or RETURNING; INSERT OR REPLACE for name/value rows.
constexpr std::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS disclosures ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  check_ref TEXT NOT NULL,"
    "  answer_id TEXT NOT NULL UNIQUE,"
    "  answer_hash TEXT NOT NULL,"
    "  purpose TEXT NOT NULL,"
    "  lawful_basis TEXT NOT NULL,"
    "  consent TEXT NOT NULL,"
    "  policy_version TEXT NOT NULL,"
    "  shadow_version TEXT NOT NULL,"
    "  level INTEGER NOT NULL,"
    "  held INTEGER NOT NULL,"
    "  categories TEXT NOT NULL,"
    "  shadow TEXT);"
    "CREATE INDEX IF NOT EXISTS disclosures_check_ref ON disclosures (check_ref);"
    "CREATE TABLE IF NOT EXISTS receipts ("
    "  answer_id TEXT PRIMARY KEY NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  leaf_hash TEXT NOT NULL,"
    "  checkpoint TEXT NOT NULL,"
    "  receipt TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS witness_state ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS witness_alarms ("
    "  id INTEGER PRIMARY KEY,"
    "  raised_at INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  held_checkpoint TEXT NOT NULL,"
    "  presented_checkpoint TEXT NOT NULL,"
    "  cleared_at INTEGER);";

constexpr std::string_view kAnswerColumns =
    "time, check_ref, answer_id, answer_hash, purpose, lawful_basis, consent, policy_version, "
    "shadow_version, level, held, categories, shadow";

constexpr const char* kCheckpointName = "checkpoint";

nlohmann::json ParseStored(const std::string& text) {
  // Written by this module from valid JSON; a row that no longer parses is shown as null rather
  // than thrown.
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

DisclosureRecord ReadAnswer(const storage::Statement& s) {
  DisclosureRecord r;
  r.time = s.ColumnInt(0);
  r.check_ref = s.ColumnText(1);
  r.answer_id = s.ColumnText(2);
  r.answer_hash = s.ColumnText(3);
  r.purpose = s.ColumnText(4);
  r.lawful_basis = s.ColumnText(5);
  r.consent = s.ColumnText(6);
  r.policy_version = s.ColumnText(7);
  r.shadow_version = s.ColumnText(8);
  r.level = static_cast<int>(s.ColumnInt(9));
  r.held = s.ColumnInt(10) != 0;
  r.categories = ParseStored(s.ColumnText(11));
  if (!s.ColumnIsNull(12)) r.shadow = ParseStored(s.ColumnText(12));
  return r;
}

Status SaveCheckpointIn(storage::Database* db, const std::string& text) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db->Prepare("INSERT OR REPLACE INTO witness_state (name, value) VALUES (?, ?)"));
  s.Bind(1, kCheckpointName).Bind(2, text);
  return s.Run();
}

}  // namespace

Result<std::unique_ptr<DisclosureLog>> DisclosureLog::Create(storage::Database* db) {
  if (db == nullptr) return InvalidArgument("disclosure log: no database");
  Status s = db->Exec(kSchema);
  if (!s.ok()) return s.WithContext("disclosure log: creating tables");
  return std::unique_ptr<DisclosureLog>(new DisclosureLog(db));
}

Status DisclosureLog::RecordAnswer(const DisclosureRecord& r) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("INSERT INTO disclosures (" + std::string(kAnswerColumns) +
                                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  s.Bind(1, r.time)
      .Bind(2, r.check_ref)
      .Bind(3, r.answer_id)
      .Bind(4, r.answer_hash)
      .Bind(5, r.purpose)
      .Bind(6, r.lawful_basis)
      .Bind(7, r.consent)
      .Bind(8, r.policy_version)
      .Bind(9, r.shadow_version)
      .Bind(10, static_cast<int64_t>(r.level))
      .Bind(11, static_cast<int64_t>(r.held ? 1 : 0))
      .Bind(12, r.categories.dump());
  if (r.shadow.is_null()) {
    s.BindNull(13);
  } else {
    s.Bind(13, r.shadow.dump());
  }
  return s.Run();
}

Result<DisclosureRecord> DisclosureLog::FindAnswer(const std::string& answer_id) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT " + std::string(kAnswerColumns) +
                                     " FROM disclosures WHERE answer_id = ?"));
  s.Bind(1, answer_id);
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return NotFound("no answer with this id was sent");
  return ReadAnswer(s);
}

Result<std::vector<DisclosureRecord>> DisclosureLog::RecentAnswers(int limit) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT " + std::string(kAnswerColumns) +
                                     " FROM disclosures ORDER BY id DESC LIMIT ?"));
  s.Bind(1, static_cast<int64_t>(limit));
  std::vector<DisclosureRecord> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadAnswer(s));
  }
  return out;
}

Status DisclosureLog::ReplaceAnswer(const std::string& old_answer_id, const DisclosureRecord& r) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("UPDATE disclosures SET time = ?, answer_id = ?, answer_hash = ?, "
                   "policy_version = ?, shadow_version = ?, level = ?, held = ?, categories = ?, "
                   "shadow = ? WHERE answer_id = ? AND check_ref = ?"));
  s.Bind(1, r.time)
      .Bind(2, r.answer_id)
      .Bind(3, r.answer_hash)
      .Bind(4, r.policy_version)
      .Bind(5, r.shadow_version)
      .Bind(6, static_cast<int64_t>(r.level))
      .Bind(7, static_cast<int64_t>(r.held ? 1 : 0))
      .Bind(8, r.categories.dump());
  if (r.shadow.is_null()) {
    s.BindNull(9);
  } else {
    s.Bind(9, r.shadow.dump());
  }
  s.Bind(10, old_answer_id).Bind(11, r.check_ref);
  return s.Run();
}

Result<std::vector<DisclosureRecord>> DisclosureLog::AnswersSince(int64_t since,
                                                                  const std::string& check_ref,
                                                                  int limit) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("SELECT " + std::string(kAnswerColumns) +
                   " FROM disclosures WHERE time >= ? AND (? = '' OR check_ref = ?)"
                   " ORDER BY id DESC LIMIT ?"));
  s.Bind(1, since).Bind(2, check_ref).Bind(3, check_ref).Bind(4, static_cast<int64_t>(limit));
  std::vector<DisclosureRecord> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    out.push_back(ReadAnswer(s));
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Status DisclosureLog::RecordReceipt(const ReceiptRecord& r, const std::string& held_checkpoint,
                                    const std::function<Status()>& within) {
  return db_->InTransaction([&]() -> Status {
    if (within) MASH_RETURN_IF_ERROR(within());
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("INSERT INTO receipts (answer_id, time, seq, leaf_hash, checkpoint, receipt) "
                     "VALUES (?, ?, ?, ?, ?, ?)"));
    s.Bind(1, r.answer_id)
        .Bind(2, r.time)
        .Bind(3, static_cast<int64_t>(r.seq))
        .Bind(4, r.leaf_hash)
        .Bind(5, r.checkpoint)
        .Bind(6, r.receipt);
    MASH_RETURN_IF_ERROR(s.Run());
    return SaveCheckpointIn(db_, held_checkpoint);
  });
}

Result<std::optional<ReceiptRecord>> DisclosureLog::FindReceipt(const std::string& answer_id) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT answer_id, time, seq, leaf_hash, checkpoint, receipt "
                                     "FROM receipts WHERE answer_id = ?"));
  s.Bind(1, answer_id);
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<ReceiptRecord>();
  ReceiptRecord r;
  r.answer_id = s.ColumnText(0);
  r.time = s.ColumnInt(1);
  r.seq = static_cast<uint64_t>(s.ColumnInt(2));
  r.leaf_hash = s.ColumnText(3);
  r.checkpoint = s.ColumnText(4);
  r.receipt = s.ColumnText(5);
  return std::optional<ReceiptRecord>(std::move(r));
}

Status DisclosureLog::SaveCheckpoint(const std::string& text) {
  return SaveCheckpointIn(db_, text);
}

Result<std::optional<std::string>> DisclosureLog::LoadCheckpoint() {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db_->Prepare("SELECT value FROM witness_state WHERE name = ?"));
  s.Bind(1, kCheckpointName);
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.ColumnText(0));
}

Status DisclosureLog::RaiseAlarm(const AlarmRecord& a) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("INSERT INTO witness_alarms (raised_at, reason, held_checkpoint, "
                   "presented_checkpoint, cleared_at) VALUES (?, ?, ?, ?, NULL)"));
  s.Bind(1, a.raised_at)
      .Bind(2, a.reason)
      .Bind(3, a.held_checkpoint)
      .Bind(4, a.presented_checkpoint);
  return s.Run();
}

Result<std::optional<AlarmRecord>> DisclosureLog::ActiveAlarm() {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db_->Prepare("SELECT raised_at, reason, held_checkpoint, presented_checkpoint "
                   "FROM witness_alarms WHERE cleared_at IS NULL ORDER BY id LIMIT 1"));
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<AlarmRecord>();
  AlarmRecord a;
  a.raised_at = s.ColumnInt(0);
  a.reason = s.ColumnText(1);
  a.held_checkpoint = s.ColumnText(2);
  a.presented_checkpoint = s.ColumnText(3);
  return std::optional<AlarmRecord>(std::move(a));
}

Result<int64_t> DisclosureLog::ClearAlarms(int64_t now) {
  int64_t cleared = 0;
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(
        storage::Statement s,
        db_->Prepare("UPDATE witness_alarms SET cleared_at = ? WHERE cleared_at IS NULL"));
    s.Bind(1, now);
    MASH_RETURN_IF_ERROR(s.Run());
    cleared = db_->Changes();
    MASH_ASSIGN_OR_RETURN(storage::Statement forget,
                          db_->Prepare("DELETE FROM witness_state WHERE name = ?"));
    forget.Bind(1, kCheckpointName);
    return forget.Run();
  });
  if (!done.ok()) return done;
  return cleared;
}

Result<int64_t> ResetAuditWitness(const AgentConfig& config, int64_t now) {
  storage::DatabaseOptions options;
  options.file = config.database;
  options.key_file = config.database_key;
  options.create_if_missing = false;
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<storage::Database> db, storage::Database::Open(options));
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<DisclosureLog> log, DisclosureLog::Create(db.get()));
  MASH_ASSIGN_OR_RETURN(int64_t cleared, log->ClearAlarms(now));
  common::LogWarn("audit.reset", {{"alarms_cleared", cleared}});
  return cleared;
}

}  // namespace mash::agent
