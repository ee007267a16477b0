// Private: the audit tables (docs/audit-format.md §Store) and a NodeReader over them.
#pragma once

#include <optional>
#include <string_view>

#include "mash/audit/merkle.h"
#include "mash/storage/database.h"

namespace mash::audit::internal {

inline constexpr std::string_view kSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_events(
  seq INTEGER PRIMARY KEY,
  time_ms INTEGER NOT NULL,
  type TEXT NOT NULL,
  outcome TEXT NOT NULL,
  person TEXT NOT NULL,
  agency TEXT NOT NULL,
  purpose TEXT NOT NULL,
  lawful_basis TEXT NOT NULL,
  encoded BLOB NOT NULL,
  leaf_hash BLOB NOT NULL,
  chain BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS audit_events_time ON audit_events(time_ms);
CREATE INDEX IF NOT EXISTS audit_events_person ON audit_events(person);
CREATE INDEX IF NOT EXISTS audit_events_agency ON audit_events(agency);
CREATE TABLE IF NOT EXISTS audit_subjects(
  skey INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY(skey, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_nodes(
  level INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  hash BLOB NOT NULL,
  PRIMARY KEY(level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS audit_checkpoints(
  id INTEGER PRIMARY KEY,
  size INTEGER NOT NULL,
  time_ms INTEGER NOT NULL,
  text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_purged(
  seq INTEGER PRIMARY KEY,
  leaf_hash BLOB NOT NULL,
  chain BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS audit_meta(
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL);
)sql";

inline Status EnsureSchema(storage::Database& db) { return db.Exec(kSchema); }

// The subject index key of a pseudonym: the first 8 bytes of SHA-256(pseudonym), big-endian, as
// a signed 64-bit integer. A quarter of the size of the text, so the index stays in cache; a
// query decodes each hit and keeps only events that name the exact pseudonym.
int64_t SubjectKey(std::string_view pseudonym);

// Page cache for the audit connections: proofs, the subject index and verification read pages
// at random, and every page read from the file is decrypted and authenticated again.
inline constexpr std::string_view kCachePragmas =
    "PRAGMA cache_size = -32768; PRAGMA wal_autocheckpoint = 8192;";

// True when the audit tables exist (a database without them is not an audit log).
Result<bool> HasSchema(storage::Database& db);

// Complete-subtree hashes from the tables: level 0 from audit_events (or audit_purged), higher
// levels from audit_nodes. NotFound names the missing node; DataLoss when a stored hash is not
// 32 bytes.
class StoreNodeReader final : public NodeReader {
 public:
  explicit StoreNodeReader(storage::Database& db) : db_(db) {}
  Result<Hash> Node(int level, uint64_t index) const override;

 private:
  storage::Database& db_;
  mutable std::optional<storage::Statement> leaf_, purged_, node_;
};

Result<std::optional<std::string>> GetMeta(storage::Database& db, std::string_view key);
Status SetMeta(storage::Database& db, std::string_view key, std::string_view value);

}  // namespace mash::audit::internal
