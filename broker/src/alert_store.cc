#include "mash/broker/alert_store.h"

namespace mash::broker {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS hub_alert(
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  check_id TEXT NOT NULL DEFAULT '',
  person TEXT NOT NULL,
  role TEXT NOT NULL DEFAULT '',
  team TEXT NOT NULL DEFAULT '',
  summary TEXT NOT NULL,
  detail TEXT NOT NULL DEFAULT '{}',
  history TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS hub_alert_created ON hub_alert(created_at);
)sql";

constexpr char kColumns[] =
    "id, kind, status, created_at, updated_at, check_id, person, role, team, summary, detail, "
    "history";

}  // namespace

Result<std::unique_ptr<AlertStore>> AlertStore::Open(const storage::DatabaseOptions& options) {
  MASH_ASSIGN_OR_RETURN(auto db, storage::Database::Open(options));
  MASH_RETURN_IF_ERROR(db->Exec("PRAGMA secure_delete = ON"));
  MASH_RETURN_IF_ERROR(db->Exec(kSchema));
  return std::unique_ptr<AlertStore>(new AlertStore(std::move(db)));
}

Status AlertStore::Put(const StoredAlert& a) {
  MASH_ASSIGN_OR_RETURN(auto stmt,
                        db_->Prepare(std::string("INSERT OR REPLACE INTO hub_alert(") + kColumns +
                                     ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, a.id)
      .Bind(2, a.kind)
      .Bind(3, a.status)
      .Bind(4, a.created_at_ms)
      .Bind(5, a.updated_at_ms)
      .Bind(6, a.check_id)
      .Bind(7, a.person)
      .Bind(8, a.role)
      .Bind(9, a.team)
      .Bind(10, a.summary)
      .Bind(11, a.detail)
      .Bind(12, a.history);
  return stmt.Run();
}

Result<std::vector<StoredAlert>> AlertStore::LoadAll() {
  MASH_ASSIGN_OR_RETURN(auto stmt, db_->Prepare(std::string("SELECT ") + kColumns +
                                                " FROM hub_alert ORDER BY created_at, id"));
  std::vector<StoredAlert> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    StoredAlert a;
    a.id = stmt.ColumnText(0);
    a.kind = stmt.ColumnText(1);
    a.status = stmt.ColumnText(2);
    a.created_at_ms = stmt.ColumnInt(3);
    a.updated_at_ms = stmt.ColumnInt(4);
    a.check_id = stmt.ColumnText(5);
    a.person = stmt.ColumnText(6);
    a.role = stmt.ColumnText(7);
    a.team = stmt.ColumnText(8);
    a.summary = stmt.ColumnText(9);
    a.detail = stmt.ColumnText(10);
    a.history = stmt.ColumnText(11);
    out.push_back(std::move(a));
  }
  return out;
}

}  // namespace mash::broker
