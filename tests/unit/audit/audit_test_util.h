// Shared set-up for the audit store tests: a temporary directory with a database key, a
// checkpoint key, a fake clock, and helpers to open the log and make events.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "mash/audit/log.h"
#include "mash/audit/verify.h"
#include "mash/common/clock.h"
#include "mash/crypto/keys.h"
#include "mash/storage/database.h"
#include "support/temp_dir.h"

namespace mash::audit::testing {

inline AuditEvent MakeEvent(int i) {
  AuditEvent e;
  e.type = (i % 3 == 0) ? EventType::kCategoryDisclosed : EventType::kCategoryWithheld;
  e.outcome = (i % 3 == 0) ? Outcome::kOk : Outcome::kWithheld;
  e.person = "user" + std::to_string(i % 7);
  e.role = "practitioner";
  e.organisation = "hub";
  e.agency = (i % 2 == 0) ? "police" : "health";
  e.subjects = {"ps1:subject" + std::to_string(i % 11)};
  e.check_ref = "chk-" + std::to_string(i / 4);
  e.purpose = (i % 5 == 0) ? "early_help" : "child_protection_s47";
  e.lawful_basis = "uk_gdpr_6_1_e";
  e.consent = "not_sought";
  e.override_ground = "child_significant_harm";
  e.justification_ref = "just-" + std::to_string(i);
  e.level = 1;
  e.categories = {{"cat" + std::to_string(i % 4), i % 3 == 0 ? "disclosed" : "withheld",
                   i % 3 == 0 ? "" : "not_necessary"}};
  e.rule = "rule-" + std::to_string(i % 9);
  e.policy_version = "sha256:abcd";
  e.envelope_hashes = {Bytes(32, static_cast<uint8_t>(i))};
  return e;
}

class AuditStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    db_key_file_ = dir_ / "db.key";
    ASSERT_TRUE(crypto::WriteKeyFile(db_key_file_, crypto::KeyKind::kDatabaseKey,
                                     crypto::GenerateSymmetricKey().span())
                    .ok());
    db_file_ = dir_ / "audit.db";
    key_ = std::make_shared<crypto::SigningKey>(crypto::SigningKey::Generate());
  }

  std::unique_ptr<storage::Database> OpenDb(const std::filesystem::path& file) {
    storage::DatabaseOptions o;
    o.file = file;
    o.key_file = db_key_file_;
    auto db = storage::Database::Open(o);
    EXPECT_TRUE(db.ok()) << db.status().ToString();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  std::unique_ptr<storage::Database> OpenDb() { return OpenDb(db_file_); }

  AuditLogOptions Options() const {
    AuditLogOptions o;
    o.origin = "mash-broker.test";
    o.checkpoint_every_events = 16;
    o.checkpoint_every = std::chrono::milliseconds(60000);
    return o;
  }

  Result<std::unique_ptr<AuditLog>> OpenLog(AuditLogOptions o) {
    auto db = OpenDb();
    if (!db) return Unavailable("db");
    return AuditLog::Open(std::move(db), key_, clock_, std::move(o));
  }
  std::unique_ptr<AuditLog> OpenLogOrDie() { return OpenLogOrDie(Options()); }
  std::unique_ptr<AuditLog> OpenLogOrDie(AuditLogOptions o) {
    auto log = OpenLog(std::move(o));
    EXPECT_TRUE(log.ok()) << log.status().ToString();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  // Appends events [from, to) (MakeEvent(i)), advancing the clock one second each.
  void AppendRange(AuditLog& log, int from, int to) {
    for (int i = from; i < to; ++i) {
      auto r = log.AppendAndWait(MakeEvent(i));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      clock_->Advance(std::chrono::seconds(1));
    }
  }

  // A log of `n` events, closed.
  void BuildLog(int n, AuditLogOptions o) {
    auto log = OpenLogOrDie(std::move(o));
    ASSERT_NE(log, nullptr);
    AppendRange(*log, 0, n);
  }
  void BuildLog(int n) { BuildLog(n, Options()); }

  VerifyReport Verify(VerifyOptions o = {}) {
    auto db = OpenDb();
    if (!db) return {};
    auto r = VerifyLog(*db, key_->Public(), o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : VerifyReport{};
  }

  static std::string ReadAll(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  mash::testing::TempDir dir_{"mash-audit"};
  std::filesystem::path db_key_file_;
  std::filesystem::path db_file_;
  std::shared_ptr<crypto::SigningKey> key_;
  std::shared_ptr<common::FakeClock> clock_ =
      std::make_shared<common::FakeClock>(common::FromUnix(1'790'000'000));
};

}  // namespace mash::audit::testing
