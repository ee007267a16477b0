#include "mash/broker/check_store.h"

namespace mash::broker {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS hub_check(
  id TEXT PRIMARY KEY,
  team TEXT NOT NULL,
  raised_by TEXT NOT NULL,
  state TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  closed_at INTEGER NOT NULL DEFAULT 0,
  purged_at INTEGER NOT NULL DEFAULT 0,
  document TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS hub_check_closed ON hub_check(purged_at, closed_at);
)sql";

constexpr char kColumns[] = "id, team, raised_by, state, raised_at, closed_at, purged_at, document";

}  // namespace

Result<std::unique_ptr<CheckStore>> CheckStore::Open(const storage::DatabaseOptions& options) {
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open(options));
  // Purged contents are overwritten, not left readable in free pages (to whoever holds the key).
  MASH_RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete = ON"));
  MASH_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<CheckStore>(new CheckStore(std::move(db)));
}

StoredCheck CheckStore::Row(const storage::Statement& s) {
  StoredCheck c;
  c.id = s.ColumnText(0);
  c.team = s.ColumnText(1);
  c.raised_by = s.ColumnText(2);
  c.state = s.ColumnText(3);
  c.raised_at_ms = s.ColumnInt(4);
  c.closed_at_ms = s.ColumnInt(5);
  c.purged_at_ms = s.ColumnInt(6);
  c.document = s.ColumnText(7);
  return c;
}

Status CheckStore::Put(const StoredCheck& c) {
  MASH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("INSERT OR REPLACE INTO hub_check(") +
                                                kColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, c.id)
      .Bind(2, c.team)
      .Bind(3, c.raised_by)
      .Bind(4, c.state)
      .Bind(5, c.raised_at_ms)
      .Bind(6, c.closed_at_ms)
      .Bind(7, c.purged_at_ms)
      .Bind(8, c.document);
  return stmt.Run();
}

Status CheckStore::PutAll(const std::vector<StoredCheck>& checks) {
  if (checks.empty()) return Status::Ok();
  if (checks.size() == 1) return Put(checks.front());
  return db_->InTransaction([&]() -> Status {
    for (const auto& c : checks) MASH_RETURN_IF_ERROR(Put(c));
    return Status::Ok();
  });
}

Result<std::vector<StoredCheck>> CheckStore::LoadUnpurged() {
  MASH_ASSIGN_OR_RETURN(auto stmt,
                        db_->Prepare(std::string("SELECT ") + kColumns +
                                     " FROM hub_check WHERE purged_at = 0 ORDER BY raised_at"));
  std::vector<StoredCheck> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    out.push_back(Row(stmt));
  }
  return out;
}

Result<std::optional<StoredCheck>> CheckStore::Get(const std::string& id) {
  MASH_ASSIGN_OR_RETURN(
      auto stmt, db_->Prepare(std::string("SELECT ") + kColumns + " FROM hub_check WHERE id = ?"));
  stmt.Bind(1, id);
  MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return std::optional<StoredCheck>();
  return std::optional<StoredCheck>(Row(stmt));
}

Result<std::vector<std::string>> CheckStore::DueForPurge(int64_t closed_before_ms) {
  MASH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare("SELECT id FROM hub_check WHERE purged_at = 0 AND "
                                                "closed_at > 0 AND closed_at <= ? "
                                                "ORDER BY closed_at"));
  stmt.Bind(1, closed_before_ms);
  std::vector<std::string> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    out.push_back(stmt.ColumnText(0));
  }
  return out;
}

Status CheckStore::Purge(const std::string& id, int64_t now_ms) {
  MASH_ASSIGN_OR_RETURN(auto existing, Get(id));
  if (!existing) return NotFound("no such check");
  if (existing->purged_at_ms != 0) return Status::Ok();
  MASH_ASSIGN_OR_RETURN(auto stmt,
                        db_->Prepare("UPDATE hub_check SET document = '', state = 'purged', "
                                     "purged_at = ? WHERE id = ?"));
  stmt.Bind(1, now_ms).Bind(2, id);
  return stmt.Run();
}

}  // namespace mash::broker
