#include "mash/storage/database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <mutex>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "mash/common/log.h"
#include "mash/crypto/keys.h"

#ifndef SQLITE_HAS_CODEC
#error "SQLITE_HAS_CODEC must be defined (link mash::dep::sqlcipher): sqlite3_key is needed"
#endif

namespace mash::storage {
namespace {

constexpr int kCipherPageSize = 4096;
constexpr int kDefaultBusyTimeoutMs = 5000;
// SQLite's name for a private in-memory database. It is never a file, so it is neither checked
// for existence nor pre-created; it also cannot use WAL, so Open refuses it at the read-back.
constexpr std::string_view kInMemoryName = ":memory:";

std::string ErrorText(sqlite3* db, int rc) {
  // sqlite3_errmsg names tables, columns and constraints but never bound values; it is only
  // meaningful when it describes `rc` (the last call on `db`).
  if (db != nullptr && (sqlite3_errcode(db) & 0xff) == (rc & 0xff)) return sqlite3_errmsg(db);
  return sqlite3_errstr(rc);
}

// Hex digit for a nibble without a data-dependent branch or table lookup (the input is key
// material).
char HexDigit(unsigned nibble) {
  const int n = static_cast<int>(nibble & 0x0f);
  return static_cast<char>('0' + n + (((9 - n) >> 8) & ('a' - '0' - 10)));
}

// Runs a statement that returns at most one value and returns that value as text ("" when the
// statement returned no row or NULL).
Result<std::string> QueryText(Database& db, std::string_view sql, std::string_view what) {
  MASH_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
  MASH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  std::string value = row ? stmt.ColumnText(0) : std::string();
  if (row) {
    // Drain the statement so that it ends cleanly (PRAGMAs may return several rows).
    Status s = stmt.Run();
    if (!s.ok()) return s.WithContext(what);
  }
  return value;
}

Status ExpectSetting(Database& db, std::string_view pragma, std::string_view want) {
  auto got = QueryText(db, pragma, pragma);
  if (!got.ok()) return got.status().WithContext("reading back setting");
  if (*got != want) {
    return FailedPrecondition(std::string(pragma) + " is '" + *got + "', want '" +
                              std::string(want) + "' (setting did not take)");
  }
  return Status::Ok();
}

// Creates `file` with mode 0600 if it does not exist, so that the database (and the -wal and
// -shm files, which SQLite creates with the database file's mode) are never group- or
// world-readable whatever the umask.
Status PreCreate(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return Status::Ok();  // appeared meanwhile; SQLite opens it
    if (errno == ENOENT) return NotFound("database directory does not exist");
    return Unavailable("cannot create database file: " + std::generic_category().message(errno));
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace

namespace {
// The files whose last write failed for want of space. A full disk is one episode however many
// files it stops: storage.full when the first one fails, storage.recovered when the last of
// them has taken a write again. Per file, so that a small write to another database that still
// fits (a sweep's update) does not end the episode while the audit log cannot write.
std::mutex g_full_mu;
std::set<std::string, std::less<>> g_full_files;
std::atomic<bool> g_disk_full{false};

std::string FileOf(sqlite3* db) {
  const char* file = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  return file != nullptr ? file : "database";
}
}  // namespace

void NoteDiskFull(std::string_view file) {
  std::lock_guard lock(g_full_mu);
  const bool first = g_full_files.empty();
  g_full_files.emplace(file);
  g_disk_full.store(true);
  if (first) {
    common::LogError("storage.full", {{"file", std::string(file)},
                                      {"effect",
                                       "writes refused until space is freed; nothing is released "
                                       "that could not be recorded"}});
  }
}

void NoteWriteSucceeded(std::string_view file) {
  if (!g_disk_full.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(g_full_mu);
  const auto it = g_full_files.find(file);
  if (it == g_full_files.end()) return;
  g_full_files.erase(it);
  if (g_full_files.empty()) {
    g_disk_full.store(false);
    common::LogInfo("storage.recovered", {{"file", std::string(file)}});
  }
}

bool StorageFull() { return g_disk_full.load(); }

Status StatusFromSqlite(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xff;
  if (primary == SQLITE_OK || primary == SQLITE_ROW || primary == SQLITE_DONE) {
    return Status::Ok();
  }
  if (primary == SQLITE_FULL ||
      (primary == SQLITE_IOERR && db != nullptr &&
       (sqlite3_system_errno(db) == ENOSPC || sqlite3_system_errno(db) == EDQUOT))) {
    NoteDiskFull(FileOf(db));
  }
  std::string message = std::string(what) + ": " + ErrorText(db, rc);
  switch (primary) {
    case SQLITE_FULL:
    case SQLITE_NOMEM:
      return ResourceExhausted(std::move(message));
    case SQLITE_CONSTRAINT:
      return AlreadyExists(std::move(message));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return DataLoss(std::move(message));
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      return Unavailable(std::move(message));
    default:
      return Internal(std::move(message));
  }
}

// ---- Statement ----

Statement::~Statement() {
  if (stmt_ != nullptr) sqlite3_finalize(stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)),
      stmt_(std::exchange(other.stmt_, nullptr)),
      bind_rc_(std::exchange(other.bind_rc_, SQLITE_OK)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  if (this != &other) {
    if (stmt_ != nullptr) sqlite3_finalize(stmt_);
    db_ = std::exchange(other.db_, nullptr);
    stmt_ = std::exchange(other.stmt_, nullptr);
    bind_rc_ = std::exchange(other.bind_rc_, SQLITE_OK);
  }
  return *this;
}

void Statement::NoteBind(int rc) {
  // The first failed bind is kept and reported by the next Step/Run, so that a statement never
  // runs with a parameter silently left NULL.
  if (rc != SQLITE_OK && bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Statement& Statement::Bind(int index, int64_t value) {
  NoteBind(sqlite3_bind_int64(stmt_, index, value));
  return *this;
}

Statement& Statement::Bind(int index, std::string_view text) {
  // A null pointer would bind SQL NULL; an empty string must stay an empty string.
  const char* data = text.data() != nullptr ? text.data() : "";
  NoteBind(sqlite3_bind_text64(stmt_, index, data, text.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  return *this;
}

Statement& Statement::BindBlob(int index, std::span<const uint8_t> blob) {
  if (blob.empty()) {
    NoteBind(sqlite3_bind_zeroblob(stmt_, index, 0));  // empty blob, not NULL
  } else {
    NoteBind(sqlite3_bind_blob64(stmt_, index, blob.data(), blob.size(), SQLITE_TRANSIENT));
  }
  return *this;
}

Statement& Statement::BindNull(int index) {
  NoteBind(sqlite3_bind_null(stmt_, index));
  return *this;
}

Result<bool> Statement::Step() {
  if (stmt_ == nullptr) return Internal("step: statement was moved from");
  if (bind_rc_ != SQLITE_OK) {
    // The message names the failure, never the value that could not be bound.
    return StatusFromSqlite(nullptr, bind_rc_, "bind");
  }
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) {
    // A write outside a transaction has committed (transactions are noted at COMMIT).
    if (!sqlite3_stmt_readonly(stmt_) && sqlite3_get_autocommit(db_) && StorageFull()) {
      NoteWriteSucceeded(FileOf(db_));
    }
    return false;
  }
  Status status = StatusFromSqlite(db_, rc, "step");
  // Release the statement's locks and let it be run again; keeps the bindings.
  sqlite3_reset(stmt_);
  return status;
}

Status Statement::Run() {
  for (;;) {
    MASH_ASSIGN_OR_RETURN(bool row, Step());
    if (!row) break;
  }
  sqlite3_reset(stmt_);
  return Status::Ok();
}

void Statement::Reset() {
  if (stmt_ == nullptr) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  bind_rc_ = SQLITE_OK;
}

int64_t Statement::ColumnInt(int col) const { return sqlite3_column_int64(stmt_, col); }

std::string Statement::ColumnText(int col) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
  if (text == nullptr) return {};
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt_, col)));
}

std::vector<uint8_t> Statement::ColumnBlob(int col) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, col));
  if (data == nullptr) return {};
  return std::vector<uint8_t>(data, data + sqlite3_column_bytes(stmt_, col));
}

bool Statement::ColumnIsNull(int col) const {
  return sqlite3_column_type(stmt_, col) == SQLITE_NULL;
}

// ---- Database ----

Result<std::unique_ptr<Database>> Database::OpenWithKey(const std::filesystem::path& file,
                                                        const crypto::SecureBuffer& key,
                                                        bool create_if_missing) {
  if (key.size() != crypto::kSymmetricKeySize) {
    return InvalidArgument("database key must be 32 bytes");
  }
  if (file.empty()) return InvalidArgument("database file name is empty");

  if (file.native() != kInMemoryName) {
    std::error_code ec;
    const bool exists = std::filesystem::exists(file, ec);
    if (ec) return Unavailable("cannot inspect database file: " + ec.message());
    if (!exists) {
      if (!create_if_missing) return NotFound("database file does not exist");
      MASH_RETURN_IF_ERROR(PreCreate(file));
    }
  }

  // FULLMUTEX (serialized): the contract is one thread at a time, so the mutex is uncontended
  // and costs little; a caller that breaks the contract then gets wrong answers for itself
  // instead of corrupting the connection (and the replay/audit state behind it). NOMUTEX would
  // buy nothing measurable at our transaction rates.
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
  if (create_if_missing) flags |= SQLITE_OPEN_CREATE;
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(file.c_str(), &raw, flags, nullptr);
  if (rc != SQLITE_OK) {
    Status status = StatusFromSqlite(raw, rc, "open");
    sqlite3_close_v2(raw);  // a handle is returned even on failure; closing nullptr is a no-op
    return status;
  }
  // From here on the Database owns the handle and closes it on every return path.
  std::unique_ptr<Database> db(new Database(raw, file));

  {
    // Raw key form x'<64 hex>': SQLCipher uses the bytes as the AES-256 key directly (no PBKDF2;
    // the key is already uniformly random) and keeps the per-file salt for the HMAC key.
    constexpr size_t kKeyTextSize = 2 + 2 * crypto::kSymmetricKeySize + 1;
    crypto::SecureBuffer key_text(kKeyTextSize);
    char* out = reinterpret_cast<char*>(key_text.data());
    out[0] = 'x';
    out[1] = '\'';
    for (size_t i = 0; i < key.size(); ++i) {
      out[2 + 2 * i] = HexDigit(key.data()[i] >> 4);
      out[3 + 2 * i] = HexDigit(key.data()[i]);
    }
    out[kKeyTextSize - 1] = '\'';
    rc = sqlite3_key(raw, key_text.data(), static_cast<int>(kKeyTextSize));
    // SQLCipher keeps its own copy (wiped when the connection closes); wipe ours now rather than
    // at scope end so that no copy outlives this call even if code is added below.
    crypto::Wipe(key_text.span());
    if (rc != SQLITE_OK) return StatusFromSqlite(raw, rc, "sqlite3_key");
  }

  // Must come after keying and before the first access to the file, or it is ignored.
  MASH_RETURN_IF_ERROR(db->Exec("PRAGMA cipher_page_size = 4096"));

  // First read of page 1: this is where a wrong key (or a file that is not a SQLCipher database
  // with this key: plaintext SQLite, random bytes, a tampered first page) shows up, as
  // SQLITE_NOTADB. All of these are "this key does not open this file".
  {
    auto count = QueryText(*db, "SELECT count(*) FROM sqlite_master", "verify key");
    if (!count.ok()) {
      if (count.status().code() == StatusCode::kDataLoss &&
          (sqlite3_errcode(raw) & 0xff) == SQLITE_NOTADB) {
        return Unauthenticated("database key rejected");
      }
      return count.status().WithContext("verify key");
    }
  }

  {
    auto mode = QueryText(*db, "PRAGMA journal_mode = WAL", "journal_mode");
    if (!mode.ok()) return mode.status();
    if (*mode != "wal") {
      return FailedPrecondition("journal_mode is '" + *mode +
                                "', want 'wal' (setting did not take)");
    }
  }
  // synchronous=FULL: with WAL, NORMAL may lose the last transactions on power loss; a replay
  // record or an audit row that was acknowledged must survive.
  MASH_RETURN_IF_ERROR(
      db->Exec("PRAGMA synchronous = FULL;"
               "PRAGMA foreign_keys = ON;"
               "PRAGMA secure_delete = ON;"
               "PRAGMA temp_store = MEMORY;"));
  sqlite3_busy_timeout(raw, kDefaultBusyTimeoutMs);  // Open applies the option

  // SQLCipher and SQLite ignore unknown or ill-timed PRAGMAs silently: read every setting back.
  MASH_RETURN_IF_ERROR(
      ExpectSetting(*db, "PRAGMA cipher_page_size", std::to_string(kCipherPageSize)));
  MASH_RETURN_IF_ERROR(ExpectSetting(*db, "PRAGMA journal_mode", "wal"));
  MASH_RETURN_IF_ERROR(ExpectSetting(*db, "PRAGMA synchronous", "2"));  // FULL
  MASH_RETURN_IF_ERROR(ExpectSetting(*db, "PRAGMA foreign_keys", "1"));
  MASH_RETURN_IF_ERROR(ExpectSetting(*db, "PRAGMA secure_delete", "1"));
  MASH_RETURN_IF_ERROR(ExpectSetting(*db, "PRAGMA temp_store", "2"));  // MEMORY
  {
    // Empty when the library is plain SQLite that merely accepted sqlite3_key's symbol.
    auto version = QueryText(*db, "PRAGMA cipher_version", "cipher_version");
    if (!version.ok()) return version.status();
    if (version->empty()) {
      return FailedPrecondition("PRAGMA cipher_version is empty: SQLCipher is not linked");
    }
  }
  return db;
}

Result<std::unique_ptr<Database>> Database::Open(const DatabaseOptions& options) {
  MASH_ASSIGN_OR_RETURN(crypto::SecureBuffer key,
                        crypto::ReadKeyFile(options.key_file, crypto::KeyKind::kDatabaseKey));
  MASH_ASSIGN_OR_RETURN(std::unique_ptr<Database> db,
                        OpenWithKey(options.file, key, options.create_if_missing));
  if (options.busy_timeout_ms != kDefaultBusyTimeoutMs) {
    sqlite3_busy_timeout(db->handle(), options.busy_timeout_ms);
  }
  return db;
}

Database::~Database() {
  // close_v2 defers the close until outstanding Statements are finalized instead of failing.
  // The last connection to close checkpoints the WAL into the database file.
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Status Database::Exec(std::string_view sql) {
  const std::string text(sql);  // sqlite3_exec needs a terminated string
  int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  return StatusFromSqlite(db_, rc, "exec");
}

Result<Statement> Database::Prepare(std::string_view sql) {
  if (sql.size() > static_cast<size_t>(INT_MAX)) return InvalidArgument("prepare: SQL too long");
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &stmt, &tail);
  if (rc != SQLITE_OK) {
    Status status = StatusFromSqlite(db_, rc, "prepare");
    sqlite3_finalize(stmt);
    return status;
  }
  Statement statement(db_, stmt);
  if (stmt == nullptr) return InvalidArgument("prepare: no SQL statement");
  // A second statement would be silently ignored by SQLite; refuse it instead.
  for (const char* p = tail; p != nullptr && p < sql.data() + sql.size(); ++p) {
    if (*p != ' ' && *p != '\n' && *p != '\t' && *p != '\r' && *p != ';') {
      return InvalidArgument("prepare: more than one SQL statement");
    }
  }
  return statement;
}

Status Database::Begin() { return Exec("BEGIN IMMEDIATE"); }
Status Database::Commit() {
  Status s = Exec("COMMIT");
  if (s.ok() && StorageFull()) NoteWriteSucceeded(FileOf(db_));
  return s;
}
Status Database::Rollback() { return Exec("ROLLBACK"); }

int64_t Database::LastInsertRowId() const { return sqlite3_last_insert_rowid(db_); }
int64_t Database::Changes() const { return sqlite3_changes(db_); }

}  // namespace mash::storage
