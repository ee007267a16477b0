// Staff accounts of the hub (DESIGN §§2, 11): users, their Argon2id passwords, login sessions and
// personal API tokens, in the broker's SQLCipher database (config.database).
//
// Tables: staff_user (id, name, role, team, disabled, password_hash, password_one_time,
// password_expires_at, failed_attempts, locked_until, created_by, created_at, changed_at) and
// staff_credential (token_sha256, user, kind "session" | "token", label, created_at, expires_at,
// idle_expires_at, last_used_at). Only the SHA-256 of a session or token is stored, and only the
// libsodium crypto_pwhash_str (Argon2id) string of a password.
//
//   AddUser / ResetUser  an admin makes an account or resets one: the broker generates a random
//              one-time password (kOneTimePasswordChars characters of a readable alphabet),
//              returned once and valid for one_time_password_lifetime. Its only use is to set the
//              user's own password (IssueToken with new_password). Resetting also clears a lock
//              and revokes every session and token of the user.
//   DisableUser  refuses the user from now on and revokes their sessions and tokens.
//   Login      user + password -> a session (random 256-bit token): absolute expiry
//              session_lifetime, idle expiry session_idle (each use pushes it back).
//   IssueToken user + password (+ new password) -> a personal API token (for mashctl), expiring
//              after `days` (default token_days_default, at most token_days_max).
//   Authenticate  bearer -> Staff, or nothing for an unknown, expired or revoked credential or a
//              disabled user.
//
// Failed password checks: after lockout_attempts consecutive ones the account is locked for
// lockout_duration; while locked, even the right password is refused. Callers see one generic
// refusal (Unauthenticated "login refused") for an unknown user, a bad, expired or one-time
// password, a lock or a disabled account; the reason goes to the log and, as a request_refused
// event, to the audit trail (at most one such row per second, counting those it stands for, since
// the caller has not authenticated). Unknown users cost the same password check as known ones, and
// their ids are not recorded (one may be a password typed in the wrong field).
//
// Password hashing (0.1-1 s, 64 MiB) runs on the directory's own worker thread, never on the
// caller's; its result comes back through `post` (the broker's io_context). At most
// max_hashing_queue checks wait or run at once; beyond that the request fails with Unavailable.
//
// Every change (user added, disabled, reset, password set, token issued, account locked) is a
// user_changed audit event. Passwords and tokens are never logged or audited.
//
// Thread safety: none; every member function runs on the io thread (the one `post` posts to),
// and so do the callbacks. Destroy the directory on that thread; callbacks still queued then are
// dropped (or find it gone and do nothing).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mash/audit/sink.h"
#include "mash/broker/refusal_throttle.h"
#include "mash/broker/staff.h"
#include "mash/common/clock.h"
#include "mash/common/status.h"
#include "mash/storage/database.h"

namespace boost::asio {
class thread_pool;
}

namespace mash::broker {

inline constexpr size_t kOneTimePasswordChars = 24;
inline constexpr size_t kMinPasswordChars = 12;
inline constexpr size_t kMaxPasswordChars = 256;

struct StaffDirectoryOptions {
  std::string organisation = "hub";  // the hub id: the organisation of every account
  int lockout_attempts = 5;
  std::chrono::seconds lockout_duration = std::chrono::minutes(15);
  std::chrono::seconds session_lifetime = std::chrono::hours(8);
  std::chrono::seconds session_idle = std::chrono::minutes(30);
  int token_days_default = 90;
  int token_days_max = 365;
  std::chrono::seconds one_time_password_lifetime = std::chrono::hours(72);
  // libsodium crypto_pwhash limits: INTERACTIVE by default (tests may lower them).
  unsigned long long pwhash_opslimit = 0;  // 0: crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t pwhash_memlimit = 0;              // 0: crypto_pwhash_MEMLIMIT_INTERACTIVE
  // Password checks waiting or running at once; more fail with Unavailable.
  int max_hashing_queue = 8;
};

// An account as listed (never its password hash).
struct StaffAccount {
  std::string user;
  std::string name;
  std::string role;
  std::string team;
  bool disabled = false;
  bool one_time_password = false;  // the password is a one-time one not yet replaced
  int failed_attempts = 0;
  int64_t locked_until = 0;  // Unix seconds; 0 or past: not locked
  int64_t created_at = 0;
};

struct NewAccount {
  std::string user;  // ^[a-z0-9][a-z0-9._-]{1,63}$
  std::string name;  // 1-200 printable characters
  std::string role;  // a role of the policy vocabulary
  std::string team;  // ^[a-z0-9][a-z0-9_.-]{0,63}$
};

// A password the broker generated, shown once.
struct OneTimePassword {
  std::string user;
  std::string password;
  int64_t expires_at = 0;  // Unix seconds
};

// A session or personal token, shown once.
struct IssuedCredential {
  std::string token;  // 64 hex digits
  int64_t expires_at = 0;
  Staff staff;
};

class StaffDirectory {
 public:
  using Post = std::function<void(std::function<void()>)>;
  template <typename T>
  using Done = std::function<void(Result<T>)>;

  // Opens (creating) the tables in `db_options`, and makes the worker thread. `audit` may be
  // null (no audit events); `clock` and `random` must outlive the directory. Errors: storage
  // errors; InvalidArgument for options out of range.
  static Result<std::unique_ptr<StaffDirectory>> Create(const storage::DatabaseOptions& db_options,
                                                        audit::AuditSink* audit,
                                                        const common::Clock& clock,
                                                        common::RandomSource& random, Post post,
                                                        StaffDirectoryOptions options);
  ~StaffDirectory();

  // (admin) A new account with a one-time password. Errors: InvalidArgument naming the field,
  // AlreadyExists when the user id is taken, Unavailable when hashing is saturated, storage
  // errors.
  void AddUser(const Staff& admin, const NewAccount& account, Done<OneTimePassword> done);
  // (admin) A new one-time password; clears the lock, revokes sessions and tokens. The account
  // stays disabled if it was. Errors: NotFound, InvalidArgument, Unavailable, storage errors.
  void ResetUser(const Staff& admin, const std::string& user, Done<OneTimePassword> done);
  // (admin) Disables the account and revokes its sessions and tokens. Errors: NotFound,
  // InvalidArgument, storage errors.
  Status DisableUser(const Staff& admin, const std::string& user);
  // Every account, by user id.
  Result<std::vector<StaffAccount>> ListUsers() const;

  // A session for `user`. Errors: Unauthenticated (any refusal, see above), InvalidArgument
  // (password longer than kMaxPasswordChars), Unavailable (hashing saturated), storage errors.
  void Login(const std::string& user, const std::string& password, Done<IssuedCredential> done);
  // A personal API token. With a one-time password, `new_password` is required and becomes the
  // password; with a permanent one it is optional (and changes it). `days` 0: the default.
  // Errors: as Login; InvalidArgument for a bad new_password (12-256 characters, not the user id,
  // not the current password), a bad label (0-100 printable characters) or days out of range.
  void IssueToken(const std::string& user, const std::string& password,
                  const std::optional<std::string>& new_password, int days,
                  const std::string& label, Done<IssuedCredential> done);
  // (the web console) Sets a new password, proven by the current or a one-time password, and
  // starts a session. Errors: as IssueToken.
  void ChangePassword(const std::string& user, const std::string& password,
                      const std::string& new_password, Done<IssuedCredential> done);
  // The staff member a session or token belongs to, or nullopt. Refreshes the idle expiry of a
  // session (and last use) at most once a minute.
  std::optional<Staff> Authenticate(std::string_view bearer);
  // Revokes the session `bearer` (a no-op for anything else). Errors: storage errors.
  Status Logout(std::string_view bearer);

  // Password checks queued or running now.
  int hashing_in_flight() const { return in_flight_; }

 private:
  struct UserRow;
  StaffDirectory(audit::AuditSink* audit, const common::Clock& clock, common::RandomSource& random,
                 Post post, StaffDirectoryOptions options);

  // true (and logged) when max_hashing_queue checks are queued or running.
  bool HashingFull() const;
  // Runs `work` on the worker and `then` with its result on the io thread (check HashingFull
  // first).
  void Offload(std::function<std::string()> work, std::function<void(std::string)> then);
  // Checks the password on the worker, then Decide()s on the io thread.
  void Authenticated(const std::string& user, const std::string& password,
                     std::function<void(Result<UserRow>)> then);
  // The account state after a password check: counts failures, locks, rehashes.
  Result<UserRow> Decide(const std::string& user, const std::string& checked_hash,
                         const std::string& verdict);
  void SetPasswordAndIssue(const UserRow& row, const std::string& new_password, bool session,
                           int days, const std::string& label, Done<IssuedCredential> done);
  Result<std::optional<UserRow>> LoadUser(const std::string& user) const;
  Result<IssuedCredential> Issue(const UserRow& row, bool session, int days,
                                 const std::string& label);
  void NewOneTimePassword(const Staff& admin, const std::string& user, bool create,
                          const NewAccount& account, Done<OneTimePassword> done);
  std::string GeneratePassword();
  Status RevokeAll(const std::string& user);
  void Refuse(const std::string& user, const std::string& why);
  void Record(const std::string& actor, const std::string& actor_role, const std::string& detail,
              audit::Outcome outcome = audit::Outcome::kOk);

  audit::AuditSink* audit_;
  const common::Clock& clock_;
  common::RandomSource& random_;
  Post post_;
  StaffDirectoryOptions options_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<boost::asio::thread_pool> worker_;
  std::shared_ptr<bool> alive_;  // false once destroyed; checked by results posted back
  std::string dummy_hash_;       // checked against for unknown users, so they cost the same
  int in_flight_ = 0;
  RefusalThrottle refusals_;  // request_refused rows: at most one a second
};

}  // namespace mash::broker
