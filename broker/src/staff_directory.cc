#include "mash/broker/staff_directory.h"

#include <sodium.h>

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <regex>

#include "mash/common/encoding.h"
#include "mash/common/log.h"
#include "mash/crypto/keys.h"
#include "mash/crypto/secure_memory.h"
#include "mash/policy/vocabulary.h"

namespace mash::broker {
namespace {

constexpr size_t kTokenBytes = 32;  // 256 bits
constexpr size_t kMaxBearerChars = 256;
constexpr size_t kMaxNameChars = 200;
constexpr size_t kMaxLabelChars = 100;
// A credential's last use is written at most this often (each write is a durable commit).
constexpr int64_t kTouchEverySeconds = 60;
// Lower-case letters and digits without l, o, 0 and 1: 32 symbols, 5 bits each.
constexpr char kPasswordAlphabet[] = "abcdefghijkmnpqrstuvwxyz23456789";

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS staff_user(
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  team TEXT NOT NULL,
  disabled INTEGER NOT NULL DEFAULT 0,
  password_hash TEXT NOT NULL,
  password_one_time INTEGER NOT NULL,
  password_expires_at INTEGER NOT NULL,
  failed_attempts INTEGER NOT NULL DEFAULT 0,
  locked_until INTEGER NOT NULL DEFAULT 0,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  changed_at INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS staff_credential(
  token_sha256 TEXT PRIMARY KEY,
  user TEXT NOT NULL,
  kind TEXT NOT NULL,
  label TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  idle_expires_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS staff_credential_user ON staff_credential(user);
)sql";

bool ValidUser(const std::string& s) {
  static const std::regex kUser("^[a-z0-9][a-z0-9._-]{1,63}$");
  return std::regex_match(s, kUser);
}

bool ValidTeam(const std::string& s) {
  static const std::regex kTeam("^[a-z0-9][a-z0-9_.-]{0,63}$");
  return std::regex_match(s, kTeam);
}

bool Printable(const std::string& s, size_t min, size_t max) {
  if (s.size() < min || s.size() > max) return false;
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

std::string Digest(std::string_view token) {
  return common::HexEncode(crypto::Sha256(common::AsBytes(token)));
}

void WipeString(std::string& s) {
  crypto::Wipe({reinterpret_cast<uint8_t*>(s.data()), s.size()});
  s.clear();
}

Status CheckNewPassword(const std::string& user, const std::string& password) {
  if (password.size() < kMinPasswordChars || password.size() > kMaxPasswordChars) {
    return InvalidArgument("/new_password must be 12-256 characters");
  }
  if (password == user) return InvalidArgument("/new_password must not be the user id");
  return Status::Ok();
}

}  // namespace

struct StaffDirectory::UserRow {
  std::string id;
  std::string name;
  std::string role;
  std::string team;
  bool disabled = false;
  std::string password_hash;
  bool one_time = false;
  int64_t password_expires_at = 0;
  int failed_attempts = 0;
  int64_t locked_until = 0;
  int64_t created_at = 0;

  Staff AsStaff(const std::string& organisation) const {
    return Staff{id, role, organisation, team};
  }
};

StaffDirectory::StaffDirectory(audit::AuditSink* audit, const common::Clock& clock,
                               common::RandomSource& random, Post post,
                               StaffDirectoryOptions options)
    : audit_(audit),
      clock_(clock),
      random_(random),
      post_(std::move(post)),
      options_(std::move(options)),
      worker_(std::make_unique<boost::asio::thread_pool>(1)),
      alive_(std::make_shared<bool>(true)) {}

StaffDirectory::~StaffDirectory() {
  *alive_ = false;
  // Checks still queued are abandoned; one running finishes and posts a result that finds the
  // directory gone.
  worker_->stop();
  worker_->join();
}

Result<std::unique_ptr<StaffDirectory>> StaffDirectory::Create(
    const storage::DatabaseOptions& db_options, audit::AuditSink* audit, const common::Clock& clock,
    common::RandomSource& random, Post post, StaffDirectoryOptions options) {
  common::InitCrypto();
  if (options.pwhash_opslimit == 0) options.pwhash_opslimit = crypto_pwhash_OPSLIMIT_INTERACTIVE;
  if (options.pwhash_memlimit == 0) options.pwhash_memlimit = crypto_pwhash_MEMLIMIT_INTERACTIVE;
  if (options.lockout_attempts < 1 || options.max_hashing_queue < 1 || options.token_days_max < 1 ||
      options.token_days_default < 1 || options.token_days_default > options.token_days_max ||
      options.session_lifetime.count() <= 0 || options.session_idle.count() <= 0 ||
      options.pwhash_opslimit < crypto_pwhash_OPSLIMIT_MIN ||
      options.pwhash_memlimit < crypto_pwhash_MEMLIMIT_MIN) {
    return InvalidArgument("staff directory options out of range");
  }
  std::unique_ptr<StaffDirectory> d(
      new StaffDirectory(audit, clock, random, std::move(post), std::move(options)));
  MASH_ASSIGN_OR_RETURN(d->db_, storage::Database::Open(db_options));
  MASH_RETURN_IF_ERROR(d->db_->Exec(kSchema));
  // A hash of a random password nobody knows: unknown users are checked against it, so that
  // the answer takes as long as for a real account.
  std::string unknown = random.Hex(16);
  char out[crypto_pwhash_STRBYTES];
  const int rc =
      crypto_pwhash_str_alg(out, unknown.c_str(), unknown.size(), d->options_.pwhash_opslimit,
                            d->options_.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13);
  WipeString(unknown);
  if (rc != 0) return ResourceExhausted("cannot hash a password (out of memory)");
  d->dummy_hash_ = out;
  return d;
}

bool StaffDirectory::HashingFull() const {
  if (in_flight_ < options_.max_hashing_queue) return false;
  common::LogWarn("staff.hashing_saturated", {{"in_flight", in_flight_}});
  return true;
}

void StaffDirectory::Offload(std::function<std::string()> work,
                             std::function<void(std::string)> then) {
  ++in_flight_;
  boost::asio::post(*worker_, [this, alive = alive_, post = post_, work = std::move(work),
                               then = std::move(then)]() mutable {
    std::string result = work();
    post([this, alive, result = std::move(result), then = std::move(then)]() mutable {
      if (!*alive) return;
      --in_flight_;
      then(std::move(result));
    });
  });
}

Result<std::optional<StaffDirectory::UserRow>> StaffDirectory::LoadUser(
    const std::string& user) const {
  MASH_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT id, name, role, team, disabled, password_hash, password_one_time, "
                   "password_expires_at, failed_attempts, locked_until, created_at FROM "
                   "staff_user WHERE id = ?"));
  stmt.Bind(1, user);
  MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
  if (!row) return std::optional<UserRow>();
  UserRow r;
  r.id = stmt.ColumnText(0);
  r.name = stmt.ColumnText(1);
  r.role = stmt.ColumnText(2);
  r.team = stmt.ColumnText(3);
  r.disabled = stmt.ColumnInt(4) != 0;
  r.password_hash = stmt.ColumnText(5);
  r.one_time = stmt.ColumnInt(6) != 0;
  r.password_expires_at = stmt.ColumnInt(7);
  r.failed_attempts = static_cast<int>(stmt.ColumnInt(8));
  r.locked_until = stmt.ColumnInt(9);
  r.created_at = stmt.ColumnInt(10);
  return std::optional<UserRow>(std::move(r));
}

std::string StaffDirectory::GeneratePassword() {
  // Groups of four separated by '-' are easy to read out and type; the dashes add no entropy
  // (24 symbols of 32: 120 bits).
  std::string out;
  for (size_t i = 0; i < kOneTimePasswordChars; ++i) {
    if (i > 0 && i % 4 == 0) out += '-';
    out += kPasswordAlphabet[random_.Uniform(sizeof(kPasswordAlphabet) - 1)];
  }
  return out;
}

void StaffDirectory::Refuse(const std::string& user, const std::string& why) {
  // `user` names an existing account, or is empty.
  const std::string& who = user;
  common::LogWarn("staff.login_refused", {{"user", who}, {"reason", why}});
  if (audit_ == nullptr) return;
  // The caller has not authenticated: one audit row per second at most, counting the rest.
  const auto earlier = refusals_.Admit(clock_.NowUnix());
  if (!earlier) return;
  audit::AuditEvent e;
  e.type = audit::EventType::kRequestRefused;
  e.outcome = audit::Outcome::kRefused;
  e.person = who;
  e.organisation = options_.organisation;
  e.detail = "login refused: " + why;
  if (*earlier > 0) {
    e.detail += "; and " + std::to_string(*earlier) +
                " earlier login refusal(s) not recorded one by one (see the log)";
  }
  audit_->Append(std::move(e), [](Result<uint64_t> r) {
    if (!r.ok()) common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  });
}

void StaffDirectory::Record(const std::string& actor, const std::string& actor_role,
                            const std::string& detail, audit::Outcome outcome) {
  common::LogInfo("staff.changed", {{"by", actor}, {"change", detail}});
  if (audit_ == nullptr) return;
  audit::AuditEvent e;
  e.type = audit::EventType::kUserChanged;
  e.outcome = outcome;
  e.person = actor;
  e.role = actor_role;
  e.organisation = options_.organisation;
  e.detail = detail;  // user ids, roles and teams only
  audit_->Append(std::move(e), [](Result<uint64_t> r) {
    if (!r.ok()) common::LogError("audit.append_failed", {{"error", r.status().ToString()}});
  });
}

Status StaffDirectory::RevokeAll(const std::string& user) {
  MASH_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM staff_credential WHERE user = ?"));
  del.Bind(1, user);
  return del.Run();
}

void StaffDirectory::AddUser(const Staff& admin, const NewAccount& account,
                             Done<OneTimePassword> done) {
  if (!ValidUser(account.user)) {
    return done(InvalidArgument("/user must match ^[a-z0-9][a-z0-9._-]{1,63}$"));
  }
  if (!Printable(account.name, 1, kMaxNameChars)) {
    return done(InvalidArgument("/name must be 1-200 printable characters"));
  }
  if (policy::Vocabulary::Builtin().IndexOf(policy::Dimension::kRole, account.role) < 0) {
    return done(InvalidArgument(
        "/role must be practitioner, manager, custodian, ig_officer, dpo, agency_it or admin"));
  }
  if (!ValidTeam(account.team)) {
    return done(InvalidArgument("/team must match ^[a-z0-9][a-z0-9_.-]{0,63}$"));
  }
  auto existing = LoadUser(account.user);
  if (!existing.ok()) return done(existing.status());
  if (existing->has_value()) {
    return done(AlreadyExists("user '" + account.user + "' already exists"));
  }
  NewOneTimePassword(admin, account.user, /*create=*/true, account, std::move(done));
}

void StaffDirectory::ResetUser(const Staff& admin, const std::string& user,
                               Done<OneTimePassword> done) {
  if (!ValidUser(user))
    return done(InvalidArgument("/user must match ^[a-z0-9][a-z0-9._-]{1,63}$"));
  auto existing = LoadUser(user);
  if (!existing.ok()) return done(existing.status());
  if (!existing->has_value()) return done(NotFound("no such user"));
  NewOneTimePassword(admin, user, /*create=*/false, NewAccount{}, std::move(done));
}

void StaffDirectory::NewOneTimePassword(const Staff& admin, const std::string& user, bool create,
                                        const NewAccount& account, Done<OneTimePassword> done) {
  if (HashingFull()) return done(Unavailable("too many password checks at once; try again"));
  auto password = std::make_shared<std::string>(GeneratePassword());
  const auto ops = options_.pwhash_opslimit;
  const auto mem = options_.pwhash_memlimit;
  auto work = [password, ops, mem]() -> std::string {
    char out[crypto_pwhash_STRBYTES];
    if (crypto_pwhash_str_alg(out, password->c_str(), password->size(), ops, mem,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
      return "";
    }
    return out;
  };
  auto then = [this, admin, user, create, account, password,
               done = std::move(done)](std::string hash) mutable {
    if (hash.empty()) {
      WipeString(*password);
      return done(ResourceExhausted("cannot hash a password (out of memory)"));
    }
    const int64_t now = clock_.NowUnix();
    const int64_t expires = now + options_.one_time_password_lifetime.count();
    const Status stored = db_->InTransaction([&]() -> Status {
      if (create) {
        MASH_ASSIGN_OR_RETURN(
            auto put,
            db_->Prepare("INSERT INTO staff_user(id, name, role, team, password_hash, "
                         "password_one_time, password_expires_at, created_by, created_at, "
                         "changed_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?, ?)"));
        put.Bind(1, user).Bind(2, account.name).Bind(3, account.role).Bind(4, account.team);
        put.Bind(5, hash).Bind(6, expires).Bind(7, admin.user).Bind(8, now).Bind(9, now);
        return put.Run();
      }
      MASH_ASSIGN_OR_RETURN(
          auto upd, db_->Prepare("UPDATE staff_user SET password_hash = ?, password_one_time = 1, "
                                 "password_expires_at = ?, failed_attempts = 0, locked_until = 0, "
                                 "changed_at = ? WHERE id = ?"));
      upd.Bind(1, hash).Bind(2, expires).Bind(3, now).Bind(4, user);
      MASH_RETURN_IF_ERROR(upd.Run());
      if (db_->Changes() != 1) return NotFound("no such user");
      return RevokeAll(user);
    });
    if (!stored.ok()) {
      WipeString(*password);
      if (stored.code() == StatusCode::kAlreadyExists) {
        return done(AlreadyExists("user '" + user + "' already exists"));
      }
      return done(stored);
    }
    Record(admin.user, admin.role,
           create ? "user " + user + " added (role " + account.role + ", team " + account.team +
                        "); one-time password issued"
                  : "user " + user +
                        " reset: one-time password issued, lock cleared, sessions "
                        "and tokens revoked");
    OneTimePassword out{user, *password, expires};
    WipeString(*password);
    done(std::move(out));
  };
  Offload(std::move(work), std::move(then));
}

Status StaffDirectory::DisableUser(const Staff& admin, const std::string& user) {
  if (!ValidUser(user)) return InvalidArgument("/user must match ^[a-z0-9][a-z0-9._-]{1,63}$");
  const int64_t now = clock_.NowUnix();
  const Status done = db_->InTransaction([&]() -> Status {
    MASH_ASSIGN_OR_RETURN(
        auto upd, db_->Prepare("UPDATE staff_user SET disabled = 1, changed_at = ? WHERE id = ?"));
    upd.Bind(1, now).Bind(2, user);
    MASH_RETURN_IF_ERROR(upd.Run());
    if (db_->Changes() != 1) return NotFound("no such user");
    return RevokeAll(user);
  });
  MASH_RETURN_IF_ERROR(done);
  ;
  Record(admin.user, admin.role, "user " + user + " disabled; sessions and tokens revoked");
  return Status::Ok();
}

Result<std::vector<StaffAccount>> StaffDirectory::ListUsers() const {
  MASH_ASSIGN_OR_RETURN(
      auto stmt,
      db_->Prepare("SELECT id, name, role, team, disabled, password_one_time, failed_attempts, "
                   "locked_until, created_at FROM staff_user ORDER BY id"));
  std::vector<StaffAccount> out;
  while (true) {
    MASH_ASSIGN_OR_RETURN(const bool row, stmt.Step());
    if (!row) break;
    StaffAccount a;
    a.user = stmt.ColumnText(0);
    a.name = stmt.ColumnText(1);
    a.role = stmt.ColumnText(2);
    a.team = stmt.ColumnText(3);
    a.disabled = stmt.ColumnInt(4) != 0;
    a.one_time_password = stmt.ColumnInt(5) != 0;
    a.failed_attempts = static_cast<int>(stmt.ColumnInt(6));
    a.locked_until = stmt.ColumnInt(7);
    a.created_at = stmt.ColumnInt(8);
    out.push_back(std::move(a));
  }
  return out;
}

void StaffDirectory::Authenticated(const std::string& user, const std::string& password,
                                   std::function<void(Result<UserRow>)> then) {
  if (password.size() > kMaxPasswordChars) {
    return then(InvalidArgument("/password must be at most 256 characters"));
  }
  if (HashingFull()) return then(Unavailable("too many password checks at once; try again"));
  std::string hash = dummy_hash_;
  if (ValidUser(user)) {
    auto row = LoadUser(user);
    if (!row.ok()) return then(row.status());
    if (row->has_value()) hash = (*row)->password_hash;
  }
  auto secret = std::make_shared<std::string>(password);
  const auto ops = options_.pwhash_opslimit;
  const auto mem = options_.pwhash_memlimit;
  // "bad", "ok", or "ok:" and a new hash when the stored one was made with older limits.
  auto work = [secret, hash, ops, mem]() -> std::string {
    std::string verdict = "bad";
    if (crypto_pwhash_str_verify(hash.c_str(), secret->c_str(), secret->size()) == 0) {
      verdict = "ok";
      char out[crypto_pwhash_STRBYTES];
      if (crypto_pwhash_str_needs_rehash(hash.c_str(), ops, mem) != 0 &&
          crypto_pwhash_str_alg(out, secret->c_str(), secret->size(), ops, mem,
                                crypto_pwhash_ALG_ARGON2ID13) == 0) {
        verdict += ":" + std::string(out);
      }
    }
    WipeString(*secret);
    return verdict;
  };
  Offload(std::move(work),
          [this, user, hash, then](std::string verdict) { then(Decide(user, hash, verdict)); });
}

Result<StaffDirectory::UserRow> StaffDirectory::Decide(const std::string& user,
                                                       const std::string& checked_hash,
                                                       const std::string& verdict) {
  const Status generic = Unauthenticated("login refused");
  // An unknown user id is neither logged nor audited: it may be a password typed in the wrong
  // field.
  if (!ValidUser(user)) {
    Refuse("", "unknown user");
    return generic;
  }
  // The account may have changed while the password was checked: decide on what it is now.
  MASH_ASSIGN_OR_RETURN(std::optional<UserRow> loaded, LoadUser(user));
  if (!loaded) {
    Refuse("", "unknown user");
    return generic;
  }
  UserRow row = std::move(*loaded);
  const int64_t now = clock_.NowUnix();
  if (row.password_hash != checked_hash) {
    Refuse(user, "password changed during the check");
    return generic;
  }
  if (row.disabled) {
    Refuse(user, "account disabled");
    return generic;
  }
  if (row.locked_until > now) {
    // Not counted: the lock runs from the attempt that set it.
    Refuse(user, "account locked");
    return generic;
  }
  if (!verdict.starts_with("ok")) {
    const int failed = row.failed_attempts + 1;
    const bool lock = failed >= options_.lockout_attempts;
    MASH_ASSIGN_OR_RETURN(auto upd, db_->Prepare("UPDATE staff_user SET failed_attempts = ?, "
                                                 "locked_until = ? WHERE id = ?"));
    upd.Bind(1, lock ? 0 : failed).Bind(2, lock ? now + options_.lockout_duration.count() : 0);
    upd.Bind(3, user);
    MASH_RETURN_IF_ERROR(upd.Run());
    if (lock) {
      Record(user, row.role,
             "user " + user + " locked for " +
                 std::to_string(options_.lockout_duration.count() / 60) + " min after " +
                 std::to_string(failed) + " failed password checks",
             audit::Outcome::kRefused);
    }
    Refuse(user, "bad password");
    return generic;
  }
  if (row.one_time && row.password_expires_at <= now) {
    Refuse(user, "one-time password expired");
    return generic;
  }
  std::string rehashed = verdict.size() > 3 ? verdict.substr(3) : "";
  if (row.failed_attempts != 0 || row.locked_until != 0 || !rehashed.empty()) {
    MASH_ASSIGN_OR_RETURN(auto upd,
                          db_->Prepare("UPDATE staff_user SET failed_attempts = 0, "
                                       "locked_until = 0, password_hash = ? WHERE id = ? AND "
                                       "password_hash = ?"));
    upd.Bind(1, rehashed.empty() ? row.password_hash : rehashed).Bind(2, user);
    upd.Bind(3, row.password_hash);
    MASH_RETURN_IF_ERROR(upd.Run());
    row.failed_attempts = 0;
    row.locked_until = 0;
    if (!rehashed.empty()) row.password_hash = rehashed;
  }
  return row;
}

void StaffDirectory::Login(const std::string& user, const std::string& password,
                           Done<IssuedCredential> done) {
  Authenticated(user, password, [this, user, done](Result<UserRow> row) {
    if (!row.ok()) return done(row.status());
    if (row->one_time) {
      // A one-time password only sets a new password (IssueToken).
      Refuse(user, "one-time password used to log in");
      return done(Unauthenticated("login refused"));
    }
    done(Issue(*row, /*session=*/true, 0, ""));
  });
}

void StaffDirectory::IssueToken(const std::string& user, const std::string& password,
                                const std::optional<std::string>& new_password, int days,
                                const std::string& label, Done<IssuedCredential> done) {
  if (days == 0) days = options_.token_days_default;
  if (days < 1 || days > options_.token_days_max) {
    return done(InvalidArgument("/days must be 1-" + std::to_string(options_.token_days_max)));
  }
  if (!Printable(label, 0, kMaxLabelChars)) {
    return done(InvalidArgument("/label must be at most 100 printable characters"));
  }
  if (new_password) {
    if (Status s = CheckNewPassword(user, *new_password); !s.ok()) return done(s);
    if (*new_password == password) {
      return done(InvalidArgument("/new_password must differ from /password"));
    }
  }
  Authenticated(
      user, password, [this, new_password, days, label, done](Result<UserRow> row) mutable {
        if (!row.ok()) return done(row.status());
        if (row->one_time && !new_password) {
          return done(
              InvalidArgument("/new_password is required: the password is a one-time password"));
        }
        if (new_password) {
          return SetPasswordAndIssue(*row, *new_password, /*session=*/false, days, label,
                                     std::move(done));
        }
        done(Issue(*row, /*session=*/false, days, label));
      });
}

void StaffDirectory::ChangePassword(const std::string& user, const std::string& password,
                                    const std::string& new_password, Done<IssuedCredential> done) {
  if (Status s = CheckNewPassword(user, new_password); !s.ok()) return done(s);
  if (new_password == password) {
    return done(InvalidArgument("/new_password must differ from /password"));
  }
  Authenticated(user, password, [this, new_password, done](Result<UserRow> row) mutable {
    if (!row.ok()) return done(row.status());
    SetPasswordAndIssue(*row, new_password, /*session=*/true, 0, "", std::move(done));
  });
}

void StaffDirectory::SetPasswordAndIssue(const UserRow& row, const std::string& new_password,
                                         bool session, int days, const std::string& label,
                                         Done<IssuedCredential> done) {
  if (HashingFull()) return done(Unavailable("too many password checks at once; try again"));
  auto secret = std::make_shared<std::string>(new_password);
  const auto ops = options_.pwhash_opslimit;
  const auto mem = options_.pwhash_memlimit;
  auto work = [secret, ops, mem]() -> std::string {
    char out[crypto_pwhash_STRBYTES];
    const int rc = crypto_pwhash_str_alg(out, secret->c_str(), secret->size(), ops, mem,
                                         crypto_pwhash_ALG_ARGON2ID13);
    WipeString(*secret);
    return rc == 0 ? std::string(out) : std::string();
  };
  auto then = [this, row, session, days, label, done](std::string hash) {
    if (hash.empty()) return done(ResourceExhausted("cannot hash a password (out of memory)"));
    const int64_t now = clock_.NowUnix();
    Result<IssuedCredential> issued = Unavailable("");
    const Status stored = db_->InTransaction([&]() -> Status {
      // Only if the password is still the one just checked: a reset in between wins.
      MASH_ASSIGN_OR_RETURN(
          auto upd, db_->Prepare("UPDATE staff_user SET password_hash = ?, password_one_time = 0, "
                                 "password_expires_at = 0, changed_at = ? WHERE id = ? AND "
                                 "password_hash = ? AND disabled = 0"));
      upd.Bind(1, hash).Bind(2, now).Bind(3, row.id).Bind(4, row.password_hash);
      MASH_RETURN_IF_ERROR(upd.Run());
      if (db_->Changes() != 1) return Unauthenticated("login refused");
      // A new password ends the sessions and tokens made with the old one.
      MASH_RETURN_IF_ERROR(RevokeAll(row.id));
      issued = Issue(row, session, days, label);
      return issued.status();
    });
    if (!stored.ok()) {
      if (stored.code() == StatusCode::kUnauthenticated) {
        Refuse(row.id, "account changed while the new password was hashed");
      }
      return done(stored);
    }
    Record(row.id, row.role, "user " + row.id + " set a new password");
    done(std::move(issued));
  };
  Offload(std::move(work), std::move(then));
}

Result<IssuedCredential> StaffDirectory::Issue(const UserRow& row, bool session, int days,
                                               const std::string& label) {
  const int64_t now = clock_.NowUnix();
  IssuedCredential out;
  out.token = random_.Hex(kTokenBytes);
  out.staff = row.AsStaff(options_.organisation);
  int64_t idle = 0;
  if (session) {
    out.expires_at = now + options_.session_lifetime.count();
    idle = std::min(out.expires_at, now + options_.session_idle.count());
  } else {
    out.expires_at = now + int64_t{days} * 86400;
  }
  MASH_ASSIGN_OR_RETURN(
      auto put, db_->Prepare("INSERT INTO staff_credential(token_sha256, user, kind, label, "
                             "created_at, expires_at, idle_expires_at, last_used_at) VALUES (?, "
                             "?, ?, ?, ?, ?, ?, ?)"));
  put.Bind(1, Digest(out.token)).Bind(2, row.id).Bind(3, session ? "session" : "token");
  put.Bind(4, label).Bind(5, now).Bind(6, out.expires_at).Bind(7, idle).Bind(8, now);
  if (Status s = put.Run(); !s.ok()) {
    WipeString(out.token);
    return s;
  }
  if (session) {
    common::LogInfo("staff.logged_in", {{"user", row.id}, {"expires_at", out.expires_at}});
  } else {
    Record(
        row.id, row.role,
        "user " + row.id + " issued a personal API token for " + std::to_string(days) + " day(s)");
  }
  return out;
}

std::optional<Staff> StaffDirectory::Authenticate(std::string_view bearer) {
  if (bearer.empty() || bearer.size() > kMaxBearerChars) return std::nullopt;
  const std::string digest = Digest(bearer);
  auto stmt = db_->Prepare(
      "SELECT c.token_sha256, c.kind, c.expires_at, c.idle_expires_at, c.last_used_at, u.id, "
      "u.role, u.team, u.disabled FROM staff_credential c JOIN staff_user u ON u.id = c.user "
      "WHERE c.token_sha256 = ?");
  if (!stmt.ok()) {
    common::LogError("staff.lookup_failed", {{"error", stmt.status().ToString()}});
    return std::nullopt;
  }
  stmt->Bind(1, digest);
  auto row = stmt->Step();
  if (!row.ok() || !*row) return std::nullopt;
  const std::string stored = stmt->ColumnText(0);
  if (!crypto::ConstantTimeEqual(common::AsBytes(stored), common::AsBytes(digest))) {
    return std::nullopt;
  }
  const bool session = stmt->ColumnText(1) == "session";
  const int64_t expires = stmt->ColumnInt(2);
  const int64_t idle = stmt->ColumnInt(3);
  const int64_t last_used = stmt->ColumnInt(4);
  Staff staff{stmt->ColumnText(5), stmt->ColumnText(6), options_.organisation, stmt->ColumnText(7)};
  const bool disabled = stmt->ColumnInt(8) != 0;
  const int64_t now = clock_.NowUnix();
  if (disabled) return std::nullopt;
  if (expires <= now || (session && idle <= now)) {
    if (auto del = db_->Prepare("DELETE FROM staff_credential WHERE token_sha256 = ?"); del.ok()) {
      del->Bind(1, digest);
      (void)del->Run();
    }
    return std::nullopt;
  }
  if (now - last_used >= kTouchEverySeconds) {
    auto upd = db_->Prepare(
        "UPDATE staff_credential SET last_used_at = ?, idle_expires_at = ? WHERE token_sha256 = "
        "?");
    if (upd.ok()) {
      upd->Bind(1, now)
          .Bind(2, session ? std::min(expires, now + options_.session_idle.count()) : 0)
          .Bind(3, digest);
      if (Status s = upd->Run(); !s.ok()) {
        common::LogError("staff.touch_failed", {{"error", s.ToString()}});
      }
    }
  }
  return staff;
}

Status StaffDirectory::Logout(std::string_view bearer) {
  if (bearer.empty() || bearer.size() > kMaxBearerChars) return Status::Ok();
  MASH_ASSIGN_OR_RETURN(auto del, db_->Prepare("DELETE FROM staff_credential WHERE token_sha256 = "
                                               "? AND kind = 'session'"));
  del.Bind(1, Digest(bearer));
  return del.Run();
}

}  // namespace mash::broker
