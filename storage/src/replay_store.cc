#include "mash/storage/replay_store.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace mash::storage {
namespace {

constexpr int64_t kMaxStored = std::numeric_limits<int64_t>::max();

// WITHOUT ROWID: the primary key is the only lookup, so the table is the index.
constexpr std::string_view kReplaySchema =
    "CREATE TABLE IF NOT EXISTS replay_ids ("
    "  sender TEXT NOT NULL,"
    "  id TEXT NOT NULL,"
    "  keep_until INTEGER NOT NULL,"
    "  PRIMARY KEY (sender, id)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS replay_ids_keep_until ON replay_ids (keep_until);"
    "CREATE TABLE IF NOT EXISTS replay_seq ("
    "  sender TEXT PRIMARY KEY NOT NULL,"
    "  last_sequence INTEGER NOT NULL) WITHOUT ROWID;";

constexpr std::string_view kSequenceSchema =
    "CREATE TABLE IF NOT EXISTS sequence_counters ("
    "  stream TEXT PRIMARY KEY NOT NULL,"
    "  next_unreserved INTEGER NOT NULL CHECK (next_unreserved >= 1)) WITHOUT ROWID;";

// Fail closed: whatever went wrong in storage, the caller must refuse the message.
Status Unstorable(const Status& s) { return Unavailable("replay store: " + s.ToString()); }

}  // namespace

// ---- SqlReplayStore ----

Result<std::unique_ptr<SqlReplayStore>> SqlReplayStore::Create(Database* db) {
  if (db == nullptr) return InvalidArgument("replay store: no database");
  Status s = db->Exec(kReplaySchema);
  if (!s.ok()) return s.WithContext("replay store: creating tables");
  return std::unique_ptr<SqlReplayStore>(new SqlReplayStore(db));
}

Status SqlReplayStore::Check(const std::string& sender, const std::string& id, int64_t seq) {
  if (queued_ids_.count({sender, id}) > 0) return AlreadyExists("replayed");
  MASH_ASSIGN_OR_RETURN(Statement seen,
                        db_->Prepare("SELECT 1 FROM replay_ids WHERE sender = ? AND id = ?"));
  seen.Bind(1, sender).Bind(2, id);
  MASH_ASSIGN_OR_RETURN(bool row, seen.Step());
  if (row) return AlreadyExists("replayed");
  MASH_ASSIGN_OR_RETURN(Statement last,
                        db_->Prepare("SELECT last_sequence FROM replay_seq WHERE sender = ?"));
  last.Bind(1, sender);
  MASH_ASSIGN_OR_RETURN(bool has_last, last.Step());
  // No row: nothing accepted yet; sequences start at 1, so 0 is never accepted.
  int64_t last_sequence = has_last ? last.ColumnInt(0) : 0;
  if (const auto q = queued_seq_.find(sender); q != queued_seq_.end()) {
    last_sequence = std::max(last_sequence, q->second);
  }
  if (seq <= last_sequence) return AlreadyExists("sequence not increasing");
  return Status::Ok();
}

Status SqlReplayStore::CheckAndRecord(const std::string& sender, const std::string& id,
                                      uint64_t sequence, int64_t keep_until) {
  // A sequence that cannot be stored as SQLite INTEGER can never be compared correctly later.
  if (sequence > static_cast<uint64_t>(kMaxStored)) {
    return InvalidArgument("replay store: sequence out of range");
  }
  const auto seq = static_cast<int64_t>(sequence);

  // The verdict of the checks, kept apart from storage errors: a replay is reported as
  // AlreadyExists, everything else that fails becomes Unavailable.
  Status verdict;
  Status stored = db_->InTransaction([&]() -> Status {
    verdict = Check(sender, id, seq);
    MASH_RETURN_IF_ERROR(verdict);
    {
      MASH_ASSIGN_OR_RETURN(
          Statement insert,
          db_->Prepare("INSERT INTO replay_ids (sender, id, keep_until) VALUES (?, ?, ?)"));
      insert.Bind(1, sender).Bind(2, id).Bind(3, keep_until);
      MASH_RETURN_IF_ERROR(insert.Run());
    }
    {
      // SQLite 3.15 has no UPSERT; the row is fully determined here, so REPLACE is exact. A
      // queued sequence above this one stays queued and raises the row when committed.
      MASH_ASSIGN_OR_RETURN(
          Statement update,
          db_->Prepare("INSERT OR REPLACE INTO replay_seq (sender, last_sequence) VALUES (?, ?)"));
      update.Bind(1, sender).Bind(2, seq);
      MASH_RETURN_IF_ERROR(update.Run());
    }
    return Status::Ok();
  });
  if (stored.ok()) return stored;
  if (verdict.code() == StatusCode::kAlreadyExists) return verdict;
  return Unstorable(stored);
}

Status SqlReplayStore::CheckAndQueue(const std::string& sender, const std::string& id,
                                     uint64_t sequence, int64_t keep_until) {
  if (sequence > static_cast<uint64_t>(kMaxStored)) {
    return InvalidArgument("replay store: sequence out of range");
  }
  const auto seq = static_cast<int64_t>(sequence);
  Status verdict = Check(sender, id, seq);
  if (verdict.code() == StatusCode::kAlreadyExists) return verdict;
  if (!verdict.ok()) return Unstorable(verdict);
  queued_ids_.emplace(std::make_pair(sender, id), keep_until);
  queued_seq_[sender] = seq;  // Check made sure it is above every stored and queued one
  return Status::Ok();
}

Status SqlReplayStore::CommitQueued() {
  if (queued_ids_.empty()) return Status::Ok();
  Status stored = db_->InTransaction([&]() -> Status { return WriteQueued(); });
  queued_ids_.clear();
  queued_seq_.clear();
  return stored.ok() ? stored : Unstorable(stored);
}

Status SqlReplayStore::WriteQueued() {
  auto ids = std::move(queued_ids_);
  auto seqs = std::move(queued_seq_);
  queued_ids_.clear();
  queued_seq_.clear();
  for (const auto& [key, keep_until] : ids) {
    MASH_ASSIGN_OR_RETURN(
        Statement insert,
        db_->Prepare("INSERT INTO replay_ids (sender, id, keep_until) VALUES (?, ?, ?)"));
    insert.Bind(1, key.first).Bind(2, key.second).Bind(3, keep_until);
    MASH_RETURN_IF_ERROR(insert.Run());
  }
  for (const auto& [sender, seq] : seqs) {
    // Never lowers the row: a message recorded at once (CheckAndRecord) meanwhile may have
    // raised it above the queued one.
    MASH_ASSIGN_OR_RETURN(
        Statement update,
        db_->Prepare("INSERT OR REPLACE INTO replay_seq (sender, last_sequence) VALUES (?, "
                     "max(?, coalesce((SELECT last_sequence FROM replay_seq WHERE sender = ?), "
                     "0)))"));
    update.Bind(1, sender).Bind(2, seq).Bind(3, sender);
    MASH_RETURN_IF_ERROR(update.Run());
  }
  return Status::Ok();
}

Result<int64_t> SqlReplayStore::Purge(int64_t now) {
  MASH_ASSIGN_OR_RETURN(Statement purge,
                        db_->Prepare("DELETE FROM replay_ids WHERE keep_until < ?"));
  purge.Bind(1, now);
  Status s = purge.Run();
  if (!s.ok()) return s.WithContext("replay store: purge");
  return db_->Changes();
}

// ---- SequenceCounter ----

Result<std::unique_ptr<SequenceCounter>> SequenceCounter::Create(Database* db, std::string stream) {
  if (db == nullptr) return InvalidArgument("sequence counter: no database");
  Status s = db->Exec(kSequenceSchema);
  if (!s.ok()) return s.WithContext("sequence counter: creating table");
  // The first block is reserved by the first Next(), so a counter that is never used writes
  // nothing.
  return std::unique_ptr<SequenceCounter>(new SequenceCounter(db, std::move(stream)));
}

Result<uint64_t> SequenceCounter::Next() {
  if (next_ < limit_) return next_++;

  // Reserve the next block durably before handing out any number from it: after a crash the
  // counter resumes at the end of the last reserved block, above every number ever returned.
  int64_t start = 1;
  int64_t end = 0;
  Status s = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(
        Statement read,
        db_->Prepare("SELECT next_unreserved FROM sequence_counters WHERE stream = ?"));
    read.Bind(1, stream_);
    MASH_ASSIGN_OR_RETURN(bool row, read.Step());
    if (row) start = read.ColumnInt(0);
    if (start < 1) return DataLoss("sequence counter: stored value out of range");
    if (start > kMaxStored - static_cast<int64_t>(kBlock)) {
      return ResourceExhausted("sequence counter: sequence space exhausted");
    }
    end = start + static_cast<int64_t>(kBlock);
    MASH_ASSIGN_OR_RETURN(
        Statement write,
        db_->Prepare(
            "INSERT OR REPLACE INTO sequence_counters (stream, next_unreserved) VALUES (?, ?)"));
    write.Bind(1, stream_).Bind(2, end);
    return write.Run();
  });
  if (!s.ok()) return s.WithContext("sequence counter: reserving block");
  next_ = static_cast<uint64_t>(start);
  limit_ = static_cast<uint64_t>(end);
  return next_++;
}

}  // namespace mash::storage
