// Status and Result<T>: the one error vocabulary of MASH Exchange.
//
// Every fallible library function returns Status or Result<T>; no exception crosses a library API.
// A Status carries a canonical code and a message meant for the log. Messages never hold secrets
// or personal data. Errors shown to a peer are generic (see PeerMessage()), never the message.
//
// Thread safety: values; safe to copy and move between threads.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace mash {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // malformed input: bad config, schema-invalid message, bad key file
  kNotFound,            // a named thing does not exist
  kAlreadyExists,       // a replayed message id, a duplicate registration
  kPermissionDenied,    // authenticated but not allowed: wrong agency, policy forbids
  kUnauthenticated,     // signature, certificate or credential failed
  kFailedPrecondition,  // state does not allow it: key file mode, log mismatch
  kResourceExhausted,   // limits: frame size, queue full, connection caps, disk full
  kDeadlineExceeded,    // a deadline or an expiry passed
  kUnavailable,         // a peer or service cannot be reached now; may be retried
  kDataLoss,            // stored data is corrupt or was tampered with
  kInternal,            // an invariant of ours failed
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // "CODE: message", for logs.
  std::string ToString() const;

  // Returns a copy whose message is prefixed with `context: `.
  Status WithContext(std::string_view context) const;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) {
  return {StatusCode::kInvalidArgument, std::move(m)};
}
inline Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
inline Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
inline Status PermissionDenied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}
inline Status Unauthenticated(std::string m) {
  return {StatusCode::kUnauthenticated, std::move(m)};
}
inline Status FailedPrecondition(std::string m) {
  return {StatusCode::kFailedPrecondition, std::move(m)};
}
inline Status ResourceExhausted(std::string m) {
  return {StatusCode::kResourceExhausted, std::move(m)};
}
inline Status DeadlineExceeded(std::string m) {
  return {StatusCode::kDeadlineExceeded, std::move(m)};
}
inline Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
inline Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
inline Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

// Result<T> holds either a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}        // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
    if (std::get<Status>(v_).ok()) v_ = Internal("Result built from an OK status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  // The error; Status::Ok() when a value is held.
  Status status() const { return ok() ? Status::Ok() : std::get<Status>(v_); }

  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<Status, T> v_;
};

}  // namespace mash

#define MASH_CONCAT_INNER_(a, b) a##b
#define MASH_CONCAT_(a, b) MASH_CONCAT_INNER_(a, b)

// Returns the Status from the enclosing function when `expr` is not OK.
#define MASH_RETURN_IF_ERROR(expr)               \
  do {                                           \
    ::mash::Status mash_status_ = (expr);        \
    if (!mash_status_.ok()) return mash_status_; \
  } while (0)

// `MASH_ASSIGN_OR_RETURN(auto x, F());` declares x from a Result, or returns its Status.
#define MASH_ASSIGN_OR_RETURN(lhs, rexpr) \
  MASH_ASSIGN_OR_RETURN_IMPL_(MASH_CONCAT_(mash_result_, __LINE__), lhs, rexpr)
#define MASH_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, rexpr) \
  auto tmp = (rexpr);                                \
  if (!tmp.ok()) return tmp.status();                \
  lhs = std::move(tmp).value()
