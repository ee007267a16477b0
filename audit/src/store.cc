#include "store.h"

#include <string>

#include "mash/crypto/keys.h"

namespace mash::audit::internal {
namespace {

Result<std::optional<Hash>> LookUp(storage::Database& db, std::optional<storage::Statement>& stmt,
                                   std::string_view sql, int level, uint64_t index,
                                   bool with_level) {
  if (!stmt) {
    MASH_ASSIGN_OR_RETURN(storage::Statement s, db.Prepare(sql));
    stmt.emplace(std::move(s));
  }
  stmt->Reset();
  if (with_level) {
    stmt->Bind(1, static_cast<int64_t>(level)).Bind(2, static_cast<int64_t>(index));
  } else {
    stmt->Bind(1, static_cast<int64_t>(index));
  }
  MASH_ASSIGN_OR_RETURN(bool row, stmt->Step());
  if (!row) return std::optional<Hash>();
  auto h = HashFromBytes(stmt->ColumnBlob(0));
  stmt->Reset();
  if (!h) return DataLoss("stored hash is not 32 bytes");
  return std::optional<Hash>(*h);
}

}  // namespace

int64_t SubjectKey(std::string_view pseudonym) {
  const auto h = crypto::Sha256(common::AsBytes(pseudonym));
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | h[static_cast<size_t>(i)];
  return static_cast<int64_t>(v);
}

Result<bool> HasSchema(storage::Database& db) {
  MASH_ASSIGN_OR_RETURN(
      storage::Statement s,
      db.Prepare("SELECT count(*) FROM sqlite_master WHERE type='table' AND name='audit_events'"));
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  return row && s.ColumnInt(0) == 1;
}

Result<Hash> StoreNodeReader::Node(int level, uint64_t index) const {
  if (level == 0) {
    MASH_ASSIGN_OR_RETURN(
        std::optional<Hash> h,
        LookUp(db_, leaf_, "SELECT leaf_hash FROM audit_events WHERE seq = ?", 0, index, false));
    if (h) return *h;
    MASH_ASSIGN_OR_RETURN(
        h,
        LookUp(db_, purged_, "SELECT leaf_hash FROM audit_purged WHERE seq = ?", 0, index, false));
    if (h) return *h;
  } else {
    MASH_ASSIGN_OR_RETURN(
        std::optional<Hash> h,
        LookUp(db_, node_, "SELECT hash FROM audit_nodes WHERE level = ? AND idx = ?", level, index,
               true));
    if (h) return *h;
  }
  return NotFound("audit tree node missing at level " + std::to_string(level) + " index " +
                  std::to_string(index));
}

Result<std::optional<std::string>> GetMeta(storage::Database& db, std::string_view key) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db.Prepare("SELECT value FROM audit_meta WHERE key = ?"));
  s.Bind(1, key);
  MASH_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(s.ColumnText(0));
}

Status SetMeta(storage::Database& db, std::string_view key, std::string_view value) {
  MASH_ASSIGN_OR_RETURN(storage::Statement s,
                        db.Prepare("INSERT OR REPLACE INTO audit_meta(key, value) VALUES(?, ?)"));
  s.Bind(1, key).Bind(2, value);
  return s.Run();
}

}  // namespace mash::audit::internal
