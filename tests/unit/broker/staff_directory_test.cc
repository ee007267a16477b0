// Staff accounts: one-time passwords, Argon2id hashes, lockout, sessions, personal tokens,
// revocation and the audit trail, over a real SQLCipher database and audit log, with a fake
// clock and the password checks on the directory's worker thread.
#include "mash/broker/staff_directory.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include <algorithm>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/require.hpp>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>

#include "mash/audit/log.h"
#include "mash/audit/query.h"
#include "mash/crypto/keys.h"
#include "support/temp_dir.h"

namespace mash::broker {
namespace {

using namespace std::chrono_literals;

constexpr char kPassword[] = "correct horse battery staple";

class StaffDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    common::InitCrypto();
    key_file_ = dir_ / "db.key";
    ASSERT_TRUE(crypto::WriteKeyFile(key_file_, crypto::KeyKind::kDatabaseKey,
                                     crypto::GenerateSymmetricKey().span())
                    .ok());
    auto audit_db = storage::Database::Open({dir_ / "audit.db", key_file_});
    ASSERT_TRUE(audit_db.ok());
    audit::AuditLogOptions o;
    o.origin = "hub.test";
    auto log = audit::AuditLog::Open(
        std::move(*audit_db), std::make_shared<crypto::SigningKey>(crypto::SigningKey::Generate()),
        clock_, o);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    audit_ = std::move(*log);
  }

  // Fast Argon2id limits (the algorithm is the same); one test checks the real ones.
  static StaffDirectoryOptions FastOptions() {
    StaffDirectoryOptions o;
    o.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN;
    o.pwhash_memlimit = crypto_pwhash_MEMLIMIT_MIN;
    return o;
  }

  std::unique_ptr<StaffDirectory> Make(StaffDirectoryOptions o = FastOptions()) {
    auto d = StaffDirectory::Create(
        {dir_ / "broker.db", key_file_}, audit_.get(), *clock_, random_,
        [this](std::function<void()> fn) { boost::asio::post(io_, std::move(fn)); }, o);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? std::move(*d) : nullptr;
  }

  // Starts an asynchronous call and runs the io_context until it answers.
  template <typename T>
  Result<T> Wait(const std::function<void(StaffDirectory::Done<T>)>& start) {
    std::optional<Result<T>> out;
    start([&](Result<T> r) { out.emplace(std::move(r)); });
    for (int i = 0; i < 200 && !out; ++i) io_.run_one_for(100ms);
    if (!out) return DeadlineExceeded("no answer");
    return std::move(*out);
  }

  Result<OneTimePassword> Add(StaffDirectory& d, const std::string& user,
                              const std::string& role = "practitioner",
                              const std::string& team = "north") {
    return Wait<OneTimePassword>([&](auto done) {
      d.AddUser(admin_, {user, "A. Person", role, team}, std::move(done));
    });
  }
  Result<IssuedCredential> Login(StaffDirectory& d, const std::string& user,
                                 const std::string& password) {
    return Wait<IssuedCredential>([&](auto done) { d.Login(user, password, std::move(done)); });
  }
  Result<IssuedCredential> Token(StaffDirectory& d, const std::string& user,
                                 const std::string& password,
                                 std::optional<std::string> new_password = std::nullopt,
                                 int days = 0) {
    return Wait<IssuedCredential>([&](auto done) {
      d.IssueToken(user, password, new_password, days, "laptop", std::move(done));
    });
  }
  // An account whose password is kPassword.
  void Activate(StaffDirectory& d, const std::string& user, const std::string& role = "manager") {
    auto otp = Add(d, user, role);
    ASSERT_TRUE(otp.ok()) << otp.status().ToString();
    auto t = Token(d, user, otp->password, kPassword);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
  }
  std::string PasswordHash(const std::string& user) {
    auto db = storage::Database::Open({dir_ / "broker.db", key_file_});
    EXPECT_TRUE(db.ok());
    auto stmt = (*db)->Prepare("SELECT password_hash FROM staff_user WHERE id = ?");
    stmt->Bind(1, user);
    EXPECT_TRUE(*stmt->Step());
    return stmt->ColumnText(0);
  }
  std::vector<audit::AuditEvent> Events(audit::EventType type) {
    audit_->Flush();
    auto db = storage::Database::Open({dir_ / "audit.db", key_file_});
    EXPECT_TRUE(db.ok());
    audit::QueryFilter f;
    f.type = type;
    auto events = audit::QueryEvents(**db, f);
    EXPECT_TRUE(events.ok());
    return events.ok() ? *events : std::vector<audit::AuditEvent>{};
  }

  mash::testing::TempDir dir_{"mash-staff"};
  std::filesystem::path key_file_;
  std::shared_ptr<common::FakeClock> clock_ =
      std::make_shared<common::FakeClock>(common::FromUnix(1'800'000'000));
  common::SystemRandom random_;
  boost::asio::io_context io_;
  // Keeps run_one_for waiting for the worker's results instead of returning at once.
  boost::asio::any_io_executor work_ =
      boost::asio::require(io_.get_executor(), boost::asio::execution::outstanding_work.tracked);
  std::unique_ptr<audit::AuditLog> audit_;
  Staff admin_{"root", "admin", "hub", ""};
};

TEST_F(StaffDirectoryTest, AddsUserWithOneTimePasswordAndRefusesDuplicatesAndBadFields) {
  auto d = Make();
  auto otp = Add(*d, "alice.smith");
  ASSERT_TRUE(otp.ok()) << otp.status().ToString();
  EXPECT_EQ(otp->user, "alice.smith");
  EXPECT_GE(otp->password.size(), 20u);
  EXPECT_EQ(otp->expires_at, clock_->NowUnix() + 72 * 3600);
  EXPECT_EQ(Add(*d, "alice.smith").status().code(), StatusCode::kAlreadyExists);

  const auto bad = [&](NewAccount a, const std::string& field) {
    auto r = Wait<OneTimePassword>([&](auto done) { d->AddUser(admin_, a, std::move(done)); });
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << field;
    EXPECT_NE(r.status().message().find(field), std::string::npos) << r.status().message();
  };
  bad({"Alice", "A", "practitioner", "north"}, "/user");
  bad({"a", "A", "practitioner", "north"}, "/user");
  bad({"bob", "", "practitioner", "north"}, "/name");
  bad({"bob", "line\nbreak", "practitioner", "north"}, "/name");
  bad({"bob", "B", "superuser", "north"}, "/role");
  bad({"bob", "B", "practitioner", "North Team"}, "/team");

  auto users = d->ListUsers();
  ASSERT_TRUE(users.ok());
  ASSERT_EQ(users->size(), 1u);
  EXPECT_EQ((*users)[0].role, "practitioner");
  EXPECT_TRUE((*users)[0].one_time_password);
}

TEST_F(StaffDirectoryTest, OneTimePasswordOnlySetsANewPassword) {
  auto d = Make();
  auto otp = Add(*d, "alice");
  ASSERT_TRUE(otp.ok());
  // Not a login, and not a token without a new password.
  EXPECT_EQ(Login(*d, "alice", otp->password).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(Token(*d, "alice", otp->password).status().code(), StatusCode::kInvalidArgument);
  // New passwords must be long enough and not the user id.
  EXPECT_EQ(Token(*d, "alice", otp->password, "short").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Token(*d, "alicealicealice", otp->password, "alicealicealice").status().code(),
            StatusCode::kInvalidArgument);
  auto token = Token(*d, "alice", otp->password, kPassword);
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_EQ(token->token.size(), 64u);
  EXPECT_EQ(token->expires_at, clock_->NowUnix() + 90 * 86400);
  auto staff = d->Authenticate(token->token);
  ASSERT_TRUE(staff.has_value());
  EXPECT_EQ(staff->user, "alice");
  EXPECT_EQ(staff->role, "practitioner");
  EXPECT_EQ(staff->team, "north");
  // The one-time password is spent; the new one logs in.
  EXPECT_EQ(Token(*d, "alice", otp->password, "another password!").status().code(),
            StatusCode::kUnauthenticated);
  auto session = Login(*d, "alice", kPassword);
  ASSERT_TRUE(session.ok()) << session.status().ToString();
  EXPECT_EQ(session->staff.team, "north");
  EXPECT_TRUE(d->Authenticate(session->token).has_value());
}

TEST_F(StaffDirectoryTest, OneTimePasswordExpiresAfter72Hours) {
  auto d = Make();
  auto otp = Add(*d, "alice");
  ASSERT_TRUE(otp.ok());
  clock_->Advance(72h);
  auto r = Token(*d, "alice", otp->password, kPassword);
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
}

TEST_F(StaffDirectoryTest, LocksAfterConsecutiveFailuresWithoutSayingSoAndUnlocksLater) {
  StaffDirectoryOptions o = FastOptions();
  o.lockout_attempts = 3;
  o.lockout_duration = 10min;
  auto d = Make(o);
  Activate(*d, "alice");
  const auto wrong = Login(*d, "alice", "wrong password!!");
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  const auto unknown = Login(*d, "nobody", kPassword);
  EXPECT_EQ(unknown.status().ToString(),
            wrong.status().ToString());  // an unknown user looks the same
  // A success resets the count.
  ASSERT_TRUE(Login(*d, "alice", kPassword).ok());
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(Login(*d, "alice", "wrong password!!").status().ToString(),
              wrong.status().ToString());
  }
  // Locked: the right password gets the same refusal.
  auto locked = Login(*d, "alice", kPassword);
  EXPECT_EQ(locked.status().ToString(), wrong.status().ToString());
  auto users = d->ListUsers();
  ASSERT_TRUE(users.ok());
  EXPECT_EQ((*users)[0].locked_until, clock_->NowUnix() + 600);
  clock_->Advance(9min);
  EXPECT_FALSE(Login(*d, "alice", kPassword).ok());
  clock_->Advance(1min);
  EXPECT_TRUE(Login(*d, "alice", kPassword).ok());
  auto locks = Events(audit::EventType::kUserChanged);
  EXPECT_TRUE(std::any_of(locks.begin(), locks.end(), [](const auto& e) {
    return e.detail.find("alice locked") != std::string::npos;
  }));
}

TEST_F(StaffDirectoryTest, AdminResetUnlocksAndRevokesCredentials) {
  auto d = Make();
  Activate(*d, "alice");
  auto session = Login(*d, "alice", kPassword);
  auto token = Token(*d, "alice", kPassword);
  ASSERT_TRUE(session.ok() && token.ok());
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(Login(*d, "alice", "wrong password!!").ok());
  auto otp = Wait<OneTimePassword>([&](auto done) { d->ResetUser(admin_, "alice", done); });
  ASSERT_TRUE(otp.ok()) << otp.status().ToString();
  EXPECT_FALSE(d->Authenticate(session->token).has_value());
  EXPECT_FALSE(d->Authenticate(token->token).has_value());
  EXPECT_FALSE(Login(*d, "alice", kPassword).ok());  // the old password is gone
  ASSERT_TRUE(Token(*d, "alice", otp->password, "a brand new password").ok());
  EXPECT_TRUE(Login(*d, "alice", "a brand new password").ok());
  EXPECT_EQ(Wait<OneTimePassword>([&](auto done) { d->ResetUser(admin_, "nobody", done); })
                .status()
                .code(),
            StatusCode::kNotFound);
}

TEST_F(StaffDirectoryTest, DisabledUserIsRefusedAndLosesTokens) {
  auto d = Make();
  Activate(*d, "alice");
  auto token = Token(*d, "alice", kPassword);
  ASSERT_TRUE(token.ok());
  ASSERT_TRUE(d->Authenticate(token->token).has_value());
  ASSERT_TRUE(d->DisableUser(admin_, "alice").ok());
  EXPECT_FALSE(d->Authenticate(token->token).has_value());
  EXPECT_EQ(Login(*d, "alice", kPassword).status().code(), StatusCode::kUnauthenticated);
  EXPECT_EQ(d->DisableUser(admin_, "nobody").code(), StatusCode::kNotFound);
  auto users = d->ListUsers();
  EXPECT_TRUE((*users)[0].disabled);
}

TEST_F(StaffDirectoryTest, SessionsExpireWhenIdleAndAbsolutely) {
  auto d = Make();
  Activate(*d, "alice");
  auto s = Login(*d, "alice", kPassword);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->expires_at, clock_->NowUnix() + 8 * 3600);
  // Used every 20 minutes, it lives until its absolute expiry.
  for (int i = 0; i < 23; ++i) {
    clock_->Advance(20min);
    ASSERT_TRUE(d->Authenticate(s->token).has_value()) << i;
  }
  clock_->Advance(20min);  // 8 h since login
  EXPECT_FALSE(d->Authenticate(s->token).has_value());
  // Idle for 30 minutes: gone.
  auto idle = Login(*d, "alice", kPassword);
  ASSERT_TRUE(idle.ok());
  clock_->Advance(29min);
  EXPECT_TRUE(d->Authenticate(idle->token).has_value());
  clock_->Advance(31min);
  EXPECT_FALSE(d->Authenticate(idle->token).has_value());
  // Logout ends a session at once.
  auto out = Login(*d, "alice", kPassword);
  ASSERT_TRUE(out.ok());
  ASSERT_TRUE(d->Logout(out->token).ok());
  EXPECT_FALSE(d->Authenticate(out->token).has_value());
  EXPECT_FALSE(d->Authenticate("").has_value());
  EXPECT_FALSE(d->Authenticate(std::string(64, '0')).has_value());
}

TEST_F(StaffDirectoryTest, PersonalTokensExpireAndTheirLifetimeIsBounded) {
  auto d = Make();
  Activate(*d, "alice");
  EXPECT_EQ(Token(*d, "alice", kPassword, std::nullopt, 366).status().code(),
            StatusCode::kInvalidArgument);
  auto t = Token(*d, "alice", kPassword, std::nullopt, 2);
  ASSERT_TRUE(t.ok());
  clock_->Advance(47h);
  EXPECT_TRUE(d->Authenticate(t->token).has_value());  // no idle expiry for tokens
  clock_->Advance(1h);
  EXPECT_FALSE(d->Authenticate(t->token).has_value());
}

TEST_F(StaffDirectoryTest, HashesAreArgon2idWithInteractiveLimitsAndNothingIsInPlaintext) {
  auto d = Make(StaffDirectoryOptions{});  // the production limits
  auto otp = Add(*d, "alice");
  ASSERT_TRUE(otp.ok());
  const auto start = std::chrono::steady_clock::now();
  auto token = Token(*d, "alice", otp->password, kPassword);
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(token.ok());
  std::cout << "verify + hash with INTERACTIVE limits: "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms\n";
  const std::string hash = PasswordHash("alice");
  EXPECT_TRUE(hash.starts_with("$argon2id$v=19$m=65536,t=2,p=1$")) << hash;
  EXPECT_EQ(crypto_pwhash_str_verify(hash.c_str(), kPassword, strlen(kPassword)), 0);
  d.reset();
  audit_->Flush();
  for (const char* file : {"broker.db", "broker.db-wal", "audit.db", "audit.db-wal"}) {
    std::ifstream in(dir_ / file, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.find(kPassword), std::string::npos) << file;
    EXPECT_EQ(bytes.find(otp->password), std::string::npos) << file;
    EXPECT_EQ(bytes.find(token->token), std::string::npos) << file;
    EXPECT_EQ(bytes.find("argon2id"), std::string::npos) << file;  // encrypted at rest
  }
}

TEST_F(StaffDirectoryTest, RehashesAPasswordMadeWithOtherLimits) {
  {
    auto d = Make();
    Activate(*d, "alice");
  }
  const std::string old_hash = PasswordHash("alice");
  StaffDirectoryOptions o = FastOptions();
  o.pwhash_opslimit = crypto_pwhash_OPSLIMIT_MIN + 1;
  auto d = Make(o);
  ASSERT_TRUE(Login(*d, "alice", kPassword).ok());
  const std::string new_hash = PasswordHash("alice");
  EXPECT_NE(new_hash, old_hash);
  EXPECT_NE(new_hash.find("t=2"), std::string::npos) << new_hash;
  EXPECT_TRUE(Login(*d, "alice", kPassword).ok());
}

TEST_F(StaffDirectoryTest, TooManyPasswordChecksAtOnceAreUnavailable) {
  StaffDirectoryOptions o = FastOptions();
  o.max_hashing_queue = 2;
  auto d = Make(o);
  Activate(*d, "alice");
  std::vector<Result<IssuedCredential>> results;
  for (int i = 0; i < 3; ++i) {
    d->Login("alice", kPassword, [&](Result<IssuedCredential> r) { results.push_back(r); });
  }
  // The third was refused at once, before the io thread ran anything.
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(d->hashing_in_flight(), 2);
  for (int i = 0; i < 100 && results.size() < 3; ++i) io_.run_one_for(100ms);
  ASSERT_EQ(results.size(), 3u);
  EXPECT_TRUE(results[1].ok() && results[2].ok());
  EXPECT_EQ(d->hashing_in_flight(), 0);
}

TEST_F(StaffDirectoryTest, ChangesAndRefusalsAreAuditedWithoutSecrets) {
  auto d = Make();
  auto otp = Add(*d, "alice");
  ASSERT_TRUE(otp.ok());
  ASSERT_TRUE(Token(*d, "alice", otp->password, kPassword).ok());
  clock_->Advance(1s);
  EXPECT_FALSE(Login(*d, "alice", "wrong password!!").ok());
  ASSERT_TRUE(d->DisableUser(admin_, "alice").ok());
  ASSERT_TRUE(Wait<OneTimePassword>([&](auto done) { d->ResetUser(admin_, "alice", done); }).ok());
  const auto changes = Events(audit::EventType::kUserChanged);
  std::vector<std::string> details;
  for (const auto& e : changes) details.push_back(e.person + ": " + e.detail);
  const auto has = [&](const std::string& s) {
    return std::any_of(details.begin(), details.end(),
                       [&](const std::string& line) { return line.find(s) != std::string::npos; });
  };
  EXPECT_TRUE(has("root: user alice added (role practitioner, team north)"));
  EXPECT_TRUE(has("alice: user alice set a new password"));
  EXPECT_TRUE(has("alice: user alice issued a personal API token"));
  EXPECT_TRUE(has("root: user alice disabled"));
  EXPECT_TRUE(has("root: user alice reset"));
  auto refused = Events(audit::EventType::kRequestRefused);
  ASSERT_FALSE(refused.empty());
  EXPECT_EQ(refused.back().person, "alice");
  EXPECT_EQ(refused.back().detail, "login refused: bad password");
  // An unknown user id may be a password typed in the wrong field: it is not recorded.
  clock_->Advance(1s);
  EXPECT_FALSE(Login(*d, "mypassword2024", kPassword).ok());
  refused = Events(audit::EventType::kRequestRefused);
  EXPECT_EQ(refused.back().person, "");
  EXPECT_EQ(refused.back().detail, "login refused: unknown user");
  for (const auto& e : changes) {
    EXPECT_EQ(e.detail.find(otp->password), std::string::npos);
    EXPECT_EQ(e.detail.find(kPassword), std::string::npos);
  }
}

}  // namespace
}  // namespace mash::broker
