#include "mash/storage/database.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <stdio.h>
#include <sys/stat.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "mash/crypto/keys.h"
#include "storage_test_util.h"

namespace mash::storage {
namespace {

using testing::StorageTest;

class DatabaseTest : public StorageTest {};

Result<std::string> QueryOne(Database& db, const std::string& sql) {
  MASH_ASSIGN_OR_RETURN(Statement stmt, db.Prepare(sql));
  MASH_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return NotFound("no row");
  return stmt.ColumnText(0);
}

Status Insert(Database& db, const std::string& table, std::string_view value) {
  MASH_ASSIGN_OR_RETURN(Statement stmt, db.Prepare("INSERT INTO " + table + " VALUES (?)"));
  stmt.Bind(1, value);
  return stmt.Run();
}

void FlipByte(const std::filesystem::path& path, std::streamoff offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  ASSERT_TRUE(f.good());
  f.seekg(offset);
  char c = 0;
  f.read(&c, 1);
  ASSERT_TRUE(f.good());
  c = static_cast<char>(c ^ 0x01);
  f.seekp(offset);
  f.write(&c, 1);
  ASSERT_TRUE(f.good());
}

TEST_F(DatabaseTest, CreatesAndReopensWithSameKey) {
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
    ASSERT_TRUE(Insert(*db, "t", "round trip").ok());
    EXPECT_EQ(db->Changes(), 1);
    EXPECT_EQ(db->LastInsertRowId(), 1);
  }
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto v = QueryOne(*db, "SELECT v FROM t");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(*v, "round trip");
}

TEST_F(DatabaseTest, OpenWithKeyRoundTrip) {
  crypto::SecureBuffer key = crypto::GenerateSymmetricKey();
  {
    auto db = Database::OpenWithKey(db_file_, key);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    ASSERT_TRUE((*db)->Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')").ok());
  }
  auto db = Database::OpenWithKey(db_file_, key, /*create_if_missing=*/false);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_EQ(QueryOne(**db, "SELECT v FROM t").value(), "x");
}

TEST_F(DatabaseTest, WrongKeyIsUnauthenticated) {
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
  }
  crypto::SecureBuffer other = crypto::GenerateSymmetricKey();
  auto db = Database::OpenWithKey(db_file_, other, /*create_if_missing=*/false);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kUnauthenticated) << db.status().ToString();
  EXPECT_EQ(db.status().message(), "database key rejected");
}

TEST_F(DatabaseTest, RejectsKeyOfWrongSize) {
  crypto::SecureBuffer short_key(16);
  auto db = Database::OpenWithKey(db_file_, short_key);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(DatabaseTest, PlainSqliteFileIsRejected) {
  // A plaintext SQLite database made with the same library, without a key.
  sqlite3* plain = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db_file_.c_str(), &plain, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                            nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(plain, "CREATE TABLE t (v); INSERT INTO t VALUES ('plain')", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(plain);
  ASSERT_EQ(ReadAll(db_file_).substr(0, 16), std::string("SQLite format 3\0", 16));

  auto db = Database::Open(Options());
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().code() == StatusCode::kUnauthenticated ||
              db.status().code() == StatusCode::kDataLoss)
      << db.status().ToString();
}

TEST_F(DatabaseTest, RandomBytesFileIsRejected) {
  for (size_t size : {size_t{100}, size_t{4096}, size_t{3 * 4096}}) {
    std::vector<uint8_t> junk(size);
    common::SystemRandom().Fill(junk);
    {
      std::ofstream out(db_file_, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char*>(junk.data()), static_cast<std::streamsize>(size));
    }
    auto db = Database::Open(Options());
    ASSERT_FALSE(db.ok()) << size;
    EXPECT_TRUE(db.status().code() == StatusCode::kUnauthenticated ||
                db.status().code() == StatusCode::kDataLoss)
        << size << ": " << db.status().ToString();
  }
}

TEST_F(DatabaseTest, FilesOnDiskAreNotPlaintext) {
  const std::string marker = "MASH-PLAINTEXT-MARKER-7f3a";
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Insert(*db, "t", marker + std::to_string(i)).ok());

  // While open, the rows are in the WAL.
  const std::filesystem::path wal = db_file_.string() + "-wal";
  ASSERT_TRUE(std::filesystem::exists(wal));
  EXPECT_GT(std::filesystem::file_size(wal), 0u);
  EXPECT_EQ(ReadAll(wal).find(marker), std::string::npos);
  EXPECT_EQ(ReadAll(db_file_).find(marker), std::string::npos);

  // After a checkpoint they are in the database file.
  ASSERT_TRUE(db->Exec("PRAGMA wal_checkpoint(TRUNCATE)").ok());
  const std::string after_checkpoint = ReadAll(db_file_);
  EXPECT_GE(after_checkpoint.size(), 2u * 4096u);
  EXPECT_EQ(after_checkpoint.find(marker), std::string::npos);
  EXPECT_EQ(after_checkpoint.find("CREATE TABLE"), std::string::npos);
  EXPECT_NE(after_checkpoint.substr(0, 16), std::string("SQLite format 3\0", 16));
  db.reset();
  EXPECT_EQ(ReadAll(db_file_).find(marker), std::string::npos);

  // Control: the marker is really stored (the test can fail).
  db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t WHERE v LIKE 'MASH-PLAINTEXT-MARKER-%'").value(),
            "50");
}

TEST_F(DatabaseTest, NewFilesAreOwnerOnly) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('x')").ok());
  for (const std::string suffix : {"", "-wal", "-shm"}) {
    struct stat st {};
    const std::string path = db_file_.string() + suffix;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_mode & 077, 0u) << path;
  }
}

TEST_F(DatabaseTest, SettingsAreReadBack) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(QueryOne(*db, "PRAGMA cipher_page_size").value(), "4096");
  EXPECT_EQ(QueryOne(*db, "PRAGMA page_size").value(), "4096");
  EXPECT_EQ(QueryOne(*db, "PRAGMA journal_mode").value(), "wal");
  EXPECT_EQ(QueryOne(*db, "PRAGMA synchronous").value(), "2");
  EXPECT_EQ(QueryOne(*db, "PRAGMA foreign_keys").value(), "1");
  EXPECT_EQ(QueryOne(*db, "PRAGMA secure_delete").value(), "1");
  auto version = QueryOne(*db, "PRAGMA cipher_version");
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_FALSE(version->empty());
  EXPECT_EQ(version->substr(0, 2), "3.");
}

TEST_F(DatabaseTest, SettingThatDidNotTakeIsFailedPrecondition) {
  // An in-memory database cannot use WAL: journal_mode stays "memory" and the read-back
  // must refuse it rather than go on without the journal we asked for.
  crypto::SecureBuffer key = crypto::GenerateSymmetricKey();
  auto db = Database::OpenWithKey(":memory:", key);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition) << db.status().ToString();
  EXPECT_NE(db.status().message().find("journal_mode"), std::string::npos);
}

TEST_F(DatabaseTest, KeyFileReadableByOthersIsRefused) {
  std::filesystem::permissions(key_file_, std::filesystem::perms(0644));
  auto db = Database::Open(Options());
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kFailedPrecondition) << db.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(db_file_));
}

TEST_F(DatabaseTest, MissingKeyFileIsNotFound) {
  DatabaseOptions options = Options();
  options.key_file = dir_ / "no-such.key";
  auto db = Database::Open(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound) << db.status().ToString();
}

TEST_F(DatabaseTest, MissingDatabaseWithoutCreateIsNotFound) {
  DatabaseOptions options = Options();
  options.create_if_missing = false;
  auto db = Database::Open(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound) << db.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(db_file_));
}

TEST_F(DatabaseTest, MissingDirectoryIsNotFound) {
  DatabaseOptions options = Options();
  options.file = dir_ / "no-such-dir" / "x.db";
  auto db = Database::Open(options);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), StatusCode::kNotFound) << db.status().ToString();
}

TEST_F(DatabaseTest, FullDiskIsResourceExhaustedAndDatabaseStaysUsable) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (b BLOB)").ok());
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (x'01')").ok());
  const int64_t pages = std::stoll(QueryOne(*db, "PRAGMA page_count").value());
  ASSERT_TRUE(db->Exec("PRAGMA max_page_count = " + std::to_string(pages + 3)).ok());

  auto insert = db->Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(insert.ok());
  std::vector<uint8_t> blob(3000, 0xab);
  Status full;
  int inserted = 0;
  for (int i = 0; i < 50 && full.ok(); ++i) {
    insert->Reset();
    insert->BindBlob(1, blob);
    full = insert->Run();
    if (full.ok()) ++inserted;
  }
  ASSERT_FALSE(full.ok()) << "max_page_count was never reached";
  EXPECT_EQ(full.code(), StatusCode::kResourceExhausted) << full.ToString();
  EXPECT_GE(inserted, 1);
  EXPECT_TRUE(StorageFull());  // noted once for storage.full and /readyz

  // Step reports the same.
  insert->Reset();
  insert->BindBlob(1, blob);
  auto step = insert->Step();
  ASSERT_FALSE(step.ok());
  EXPECT_EQ(step.status().code(), StatusCode::kResourceExhausted);

  // The database is still usable: reads work, the failed rows are not there, and once there is
  // room again writes work.
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), std::to_string(inserted + 1));
  ASSERT_TRUE(db->Exec("PRAGMA max_page_count = 1000000").ok());
  insert->Reset();
  insert->BindBlob(1, blob);
  EXPECT_TRUE(insert->Run().ok());
  EXPECT_FALSE(StorageFull());  // the write that committed ended the episode
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), std::to_string(inserted + 2));
  EXPECT_EQ(QueryOne(*db, "PRAGMA integrity_check").value(), "ok");
}

TEST_F(DatabaseTest, ConstraintViolationIsAlreadyExistsWithoutTheValue) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE people (name TEXT PRIMARY KEY)").ok());
  const std::string personal = "Jane Q. Citizen 1984-02-29";
  ASSERT_TRUE(Insert(*db, "people", personal).ok());
  Status dup = Insert(*db, "people", personal);
  ASSERT_FALSE(dup.ok());
  EXPECT_EQ(dup.code(), StatusCode::kAlreadyExists) << dup.ToString();
  EXPECT_EQ(dup.message().find(personal), std::string::npos) << dup.message();
  EXPECT_EQ(dup.message().find("Jane"), std::string::npos) << dup.message();
}

TEST_F(DatabaseTest, ForeignKeysAreEnforced) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE p (id INTEGER PRIMARY KEY);"
                       "CREATE TABLE c (p INTEGER NOT NULL REFERENCES p (id))")
                  .ok());
  Status s = db->Exec("INSERT INTO c VALUES (42)");
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists) << s.ToString();  // SQLITE_CONSTRAINT
}

TEST_F(DatabaseTest, InTransactionCommitsOnOkAndRollsBackOnError) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());

  Status failed = db->InTransaction([&]() -> Status {
    MASH_RETURN_IF_ERROR(Insert(*db, "t", "rolled back"));
    return Internal("boom");
  });
  EXPECT_EQ(failed.code(), StatusCode::kInternal);
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), "0");

  // A storage error inside the transaction also rolls back everything before it.
  ASSERT_TRUE(db->Exec("CREATE TABLE u (v TEXT UNIQUE)").ok());
  ASSERT_TRUE(Insert(*db, "u", "dup").ok());
  Status constraint = db->InTransaction([&]() -> Status {
    MASH_RETURN_IF_ERROR(Insert(*db, "t", "also rolled back"));
    return Insert(*db, "u", "dup");
  });
  EXPECT_EQ(constraint.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), "0");

  Status ok = db->InTransaction([&]() -> Status { return Insert(*db, "t", "kept"); });
  EXPECT_TRUE(ok.ok()) << ok.ToString();
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), "1");

  // No transaction is left open: a new one can begin.
  EXPECT_TRUE(db->Begin().ok());
  EXPECT_TRUE(db->Rollback().ok());
}

TEST_F(DatabaseTest, TamperedPageIsDataLossNotAlteredData) {
  constexpr int kRows = 400;
  auto value = [](int i) { return "row-" + std::to_string(i) + "-" + std::string(150, 'v'); };
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)").ok());
    ASSERT_TRUE(db->InTransaction([&]() -> Status {
                    for (int i = 1; i <= kRows; ++i) {
                      MASH_ASSIGN_OR_RETURN(Statement s,
                                            db->Prepare("INSERT INTO t VALUES (?, ?)"));
                      s.Bind(1, int64_t{i}).Bind(2, value(i));
                      MASH_RETURN_IF_ERROR(s.Run());
                    }
                    return Status::Ok();
                  }).ok());
  }  // closing checkpoints the WAL into the file
  const auto size = std::filesystem::file_size(db_file_);
  ASSERT_EQ(size % 4096, 0u);
  const auto pages = size / 4096;
  ASSERT_GE(pages, 10u);
  // One bit, in the middle of a leaf page holding rows (not page 1, which would fail the open).
  FlipByte(db_file_, static_cast<std::streamoff>((pages / 2) * 4096 + 2048));

  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto scan = db->Prepare("SELECT id, v FROM t ORDER BY id");
  ASSERT_TRUE(scan.ok());
  Status error;
  int rows = 0;
  for (;;) {
    auto row = scan->Step();
    if (!row.ok()) {
      error = row.status();
      break;
    }
    if (!*row) break;
    ++rows;
    // Whatever is returned must be exactly what was written.
    EXPECT_EQ(scan->ColumnText(1), value(static_cast<int>(scan->ColumnInt(0))));
  }
  EXPECT_LT(rows, kRows);
  ASSERT_FALSE(error.ok()) << "tampered page was read without error";
  EXPECT_EQ(error.code(), StatusCode::kDataLoss) << error.ToString();

  auto count = QueryOne(*db, "SELECT count(*) FROM t");
  ASSERT_FALSE(count.ok());
  EXPECT_EQ(count.status().code(), StatusCode::kDataLoss);
}

TEST_F(DatabaseTest, TamperedFirstPageIsRejectedAtOpen) {
  {
    auto db = OpenOrDie();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
  }
  FlipByte(db_file_, 2048);
  auto db = Database::Open(Options());
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(db.status().code() == StatusCode::kUnauthenticated ||
              db.status().code() == StatusCode::kDataLoss)
      << db.status().ToString();
}

TEST_F(DatabaseTest, BusyDatabaseIsUnavailable) {
  auto first = OpenOrDie();
  ASSERT_NE(first, nullptr);
  ASSERT_TRUE(first->Exec("CREATE TABLE t (v TEXT)").ok());
  auto second = OpenOrDie(/*busy_timeout_ms=*/50);
  ASSERT_NE(second, nullptr);

  ASSERT_TRUE(first->Begin().ok());
  Status busy = second->Begin();
  EXPECT_EQ(busy.code(), StatusCode::kUnavailable) << busy.ToString();
  ASSERT_TRUE(first->Rollback().ok());
  EXPECT_TRUE(second->Begin().ok());
  EXPECT_TRUE(second->Commit().ok());
}

TEST_F(DatabaseTest, StatementBindingsAndColumns) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (i INTEGER, s TEXT, b BLOB, n TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO t VALUES (?, ?, ?, ?)");
  ASSERT_TRUE(insert.ok());
  const std::vector<uint8_t> blob = {0, 1, 2, 0xff};
  insert->Bind(1, int64_t{-7}).Bind(2, std::string_view("a\0b", 3)).BindBlob(3, blob).BindNull(4);
  ASSERT_TRUE(insert->Run().ok());
  insert->Reset();
  insert->Bind(1, int64_t{0}).Bind(2, std::string_view()).BindBlob(3, {}).BindNull(4);
  ASSERT_TRUE(insert->Run().ok());

  auto select = db->Prepare("SELECT i, s, b, n FROM t ORDER BY rowid");
  ASSERT_TRUE(select.ok());
  ASSERT_TRUE(select->Step().value());
  EXPECT_EQ(select->ColumnInt(0), -7);
  EXPECT_EQ(select->ColumnText(1), std::string("a\0b", 3));
  EXPECT_EQ(select->ColumnBlob(2), blob);
  EXPECT_TRUE(select->ColumnIsNull(3));
  ASSERT_TRUE(select->Step().value());
  // Empty text and empty blobs stay empty values, not NULL.
  EXPECT_FALSE(select->ColumnIsNull(1));
  EXPECT_FALSE(select->ColumnIsNull(2));
  EXPECT_EQ(select->ColumnText(1), "");
  EXPECT_TRUE(select->ColumnBlob(2).empty());
  EXPECT_FALSE(select->Step().value());
}

TEST_F(DatabaseTest, FailedBindIsReportedNotIgnored) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE t (v TEXT)").ok());
  auto insert = db->Prepare("INSERT INTO t VALUES (?)");
  ASSERT_TRUE(insert.ok());
  insert->Bind(2, "no such parameter");
  Status s = insert->Run();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message().find("no such parameter"), std::string::npos);
  EXPECT_EQ(QueryOne(*db, "SELECT count(*) FROM t").value(), "0");
  insert->Reset();
  insert->Bind(1, "fine");
  EXPECT_TRUE(insert->Run().ok());
}

TEST_F(DatabaseTest, PrepareRefusesMoreThanOneStatement) {
  auto db = OpenOrDie();
  ASSERT_NE(db, nullptr);
  auto two = db->Prepare("SELECT 1; SELECT 2");
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(db->Prepare("SELECT 1;  \n").ok());
  auto bad = db->Prepare("SELEKT 1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInternal);
}

TEST(StorageLinkTest, DoesNotLinkPlainSqlite) {
  // Resolve the link first: inside ldd's own processes /proc/self/exe would name ldd's loader.
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  ASSERT_EQ(self.find('\''), std::string::npos);
  FILE* pipe = ::popen(("ldd '" + self + "' 2>&1").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  std::array<char, 512> buf{};
  while (std::fgets(buf.data(), static_cast<int>(buf.size()), pipe) != nullptr) out += buf.data();
  ASSERT_EQ(::pclose(pipe), 0) << out;
  EXPECT_NE(out.find("libsqlcipher"), std::string::npos) << out;
  EXPECT_NE(out.find("libc.so"), std::string::npos) << out;  // ldd really listed this binary
  EXPECT_EQ(out.find("libsqlite3.so"), std::string::npos) << out;
}

}  // namespace
}  // namespace mash::storage
