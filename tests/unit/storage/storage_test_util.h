// Shared set-up for the storage tests: a temporary directory with a database key file.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/storage/database.h"
#include "support/temp_dir.h"

namespace mash::storage::testing {

class StorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    key_file_ = dir_ / "db.key";
    crypto::SecureBuffer key = crypto::GenerateSymmetricKey();
    ASSERT_TRUE(crypto::WriteKeyFile(key_file_, crypto::KeyKind::kDatabaseKey, key.span()).ok());
    db_file_ = dir_ / "test.db";
  }

  DatabaseOptions Options() const {
    DatabaseOptions options;
    options.file = db_file_;
    options.key_file = key_file_;
    return options;
  }

  // Opens db_file_ with key_file_; fails the test when that does not work.
  std::unique_ptr<Database> OpenOrDie(int busy_timeout_ms = 5000) {
    DatabaseOptions options = Options();
    options.busy_timeout_ms = busy_timeout_ms;
    auto db = Database::Open(options);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    if (!db.ok()) return nullptr;
    return std::move(db).value();
  }

  static std::string ReadAll(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  mash::testing::TempDir dir_{"mash-storage"};
  std::filesystem::path key_file_;
  std::filesystem::path db_file_;
};

}  // namespace mash::storage::testing
