// SQLCipher databases (DESIGN §9): a raw random 256-bit key from a key file, cipher_page_size
// 4096, WAL, synchronous=FULL, and the cipher settings read back after opening (SQLCipher ignores
// unknown PRAGMAs silently, so a setting that did not take is an error, not a surprise).
//
// SQLCipher 3.4.1 on SQLite 3.15.2: no UPSERT, RETURNING, window functions, JSON or FTS5.
//
// Thread safety: a Database and its Statements belong to one thread (or one strand) at a time.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mash/common/status.h"
#include "mash/crypto/secure_memory.h"

struct sqlite3;
struct sqlite3_stmt;

namespace mash::storage {

class Statement {
 public:
  ~Statement();
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;

  // Binding indexes are 1-based, as in SQLite. A failed bind (bad index, value too big) is
  // reported by the next Step/Run (Internal or ResourceExhausted), so that the statement never
  // runs with a parameter silently left NULL.
  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);
  Statement& BindBlob(int index, std::span<const uint8_t> blob);
  Statement& BindNull(int index);
  // true when a row is ready, false when done. Errors: ResourceExhausted when the disk or
  // max_page_count is full, AlreadyExists on a constraint violation, DataLoss on corruption,
  // Unavailable when busy, Internal otherwise.
  Result<bool> Step();
  // Steps to completion (for statements returning no rows).
  Status Run();
  void Reset();  // also clears bindings

  int64_t ColumnInt(int col) const;
  std::string ColumnText(int col) const;
  std::vector<uint8_t> ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class Database;
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  void NoteBind(int rc);
  sqlite3* db_;
  sqlite3_stmt* stmt_;
  int bind_rc_ = 0;  // SQLITE_OK, or the first failed bind since the last Reset
};

struct DatabaseOptions {
  std::filesystem::path file;
  std::filesystem::path key_file;  // crypto::KeyKind::kDatabaseKey; refused if mode & 077
  bool create_if_missing = true;
  int busy_timeout_ms = 5000;
};

class Database {
 public:
  // Opens (or creates) an encrypted database. Errors: NotFound (file missing and
  // create_if_missing false, or key file missing), FailedPrecondition (key file permissions, or a
  // cipher setting that did not take), Unauthenticated (wrong key or not a SQLCipher database:
  // "database key rejected"), Unavailable (I/O).
  static Result<std::unique_ptr<Database>> Open(const DatabaseOptions& options);
  // Opens with a key already in memory (32 bytes).
  static Result<std::unique_ptr<Database>> OpenWithKey(const std::filesystem::path& file,
                                                       const crypto::SecureBuffer& key,
                                                       bool create_if_missing = true);
  ~Database();

  Status Exec(std::string_view sql);  // one or more statements, no results
  Result<Statement> Prepare(std::string_view sql);

  // BEGIN IMMEDIATE / COMMIT / ROLLBACK.
  Status Begin();
  Status Commit();
  Status Rollback();

  // Runs `fn` inside a transaction: commits when it returns OK, rolls back otherwise.
  template <typename Fn>
  Status InTransaction(Fn&& fn) {
    MASH_RETURN_IF_ERROR(Begin());
    Status s = fn();
    if (!s.ok()) {
      (void)Rollback();
      return s;
    }
    s = Commit();
    if (!s.ok()) (void)Rollback();
    return s;
  }

  int64_t LastInsertRowId() const;
  int64_t Changes() const;
  sqlite3* handle() { return db_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  Database(sqlite3* db, std::filesystem::path file) : db_(db), file_(std::move(file)) {}
  sqlite3* db_;
  std::filesystem::path file_;
};

// Maps an SQLite result code to a Status (see Statement::Step): FULL and NOMEM ->
// ResourceExhausted, CONSTRAINT -> AlreadyExists, CORRUPT and NOTADB -> DataLoss, BUSY, LOCKED,
// IOERR and CANTOPEN -> Unavailable, anything else -> Internal. The message is `what` and
// sqlite3_errmsg, never a bound value.
// Also notes a full disk (SQLITE_FULL, or an I/O error whose errno is ENOSPC or EDQUOT): see
// NoteDiskFull.
Status StatusFromSqlite(sqlite3* db, int rc, std::string_view what);

// Disk space, process-wide. A write to `file` that fails for want of space calls NoteDiskFull;
// the first such file logs `storage.full` (error; the file's name, never data) and the others
// say nothing, so that an operator gets one clear line instead of one per failed request. A
// write to `file` that commits calls NoteWriteSucceeded: once every file that failed has
// written again, `storage.recovered` is logged. StorageFull() is true in between (for /readyz).
// Thread-safe. Used by the databases here and by other files the daemons write (the audit
// anchor, whose next successful write is noted by the audit log).
void NoteDiskFull(std::string_view file);
void NoteWriteSucceeded(std::string_view file);
bool StorageFull();

}  // namespace mash::storage
