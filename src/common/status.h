// Status and Result<T>: how every fallible operation reports failure.
//
// Expected failures (disk, network, peers, bad requests) are values, never
// exceptions. A Status has an internal Code (the kind of failure), an optional
// `reason` — a stable machine token, which is the documented ECS error code
// when the failure corresponds to one (e.g. "InvalidImageName.Duplicated") —
// and a human message that names the object and the numbers involved.
// The API layer maps (code, reason) to ECS codes and HTTP statuses in exactly
// one place: api/errors.cc.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ferry {

enum class Code {
  kOk = 0,
  kInvalidArgument,     // the request is malformed or names a bad value
  kNotFound,            // the named object does not exist (for this caller)
  kAlreadyExists,       // a unique name or id is taken
  kFailedPrecondition,  // the object is in the wrong state for the operation
  kPermissionDenied,    // authenticated, but not allowed
  kUnauthenticated,     // signature, key, timestamp or nonce problems
  kResourceExhausted,   // quota, disk full
  kUnavailable,         // temporary: retry later (peer down, shutting down)
  kAborted,             // concurrent conflict
  kCancelled,           // the operation was cancelled
  kDataLoss,            // stored or received data failed verification
  kInternal,            // a bug or an unexpected environment failure
};

const char* CodeName(Code code);
// The inverse of CodeName ("NotFound" -> kNotFound), for codes that travel
// by name between processes. An unknown name is kInternal.
Code CodeFromName(std::string_view name);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }

  // "NotFound[InvalidImageId.NotFound]: image m-... does not exist"
  std::string ToString() const;

  // Returns a copy with `context + ": "` prepended to the message.
  Status WithContext(const std::string& context) const;

 private:
  Code code_ = Code::kOk;
  std::string reason_;
  std::string message_;
};

// Convenience constructors. `reason` may be empty.
inline Status InvalidArgument(std::string reason, std::string message) {
  return Status(Code::kInvalidArgument, std::move(reason), std::move(message));
}
inline Status NotFound(std::string reason, std::string message) {
  return Status(Code::kNotFound, std::move(reason), std::move(message));
}
inline Status AlreadyExists(std::string reason, std::string message) {
  return Status(Code::kAlreadyExists, std::move(reason), std::move(message));
}
inline Status FailedPrecondition(std::string reason, std::string message) {
  return Status(Code::kFailedPrecondition, std::move(reason), std::move(message));
}
inline Status PermissionDenied(std::string reason, std::string message) {
  return Status(Code::kPermissionDenied, std::move(reason), std::move(message));
}
inline Status Unauthenticated(std::string reason, std::string message) {
  return Status(Code::kUnauthenticated, std::move(reason), std::move(message));
}
inline Status ResourceExhausted(std::string reason, std::string message) {
  return Status(Code::kResourceExhausted, std::move(reason), std::move(message));
}
inline Status Unavailable(std::string message) {
  return Status(Code::kUnavailable, "", std::move(message));
}
inline Status Aborted(std::string reason, std::string message) {
  return Status(Code::kAborted, std::move(reason), std::move(message));
}
inline Status Cancelled(std::string message) {
  return Status(Code::kCancelled, "", std::move(message));
}
inline Status DataLoss(std::string message) {
  return Status(Code::kDataLoss, "", std::move(message));
}
inline Status Internal(std::string message) {
  return Status(Code::kInternal, "", std::move(message));
}
// errno-based failure of a system call on `what` (a path or an object).
Status ErrnoStatus(const std::string& op, const std::string& what, int err);

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK Status");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
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
  std::variant<T, Status> v_;
};

}  // namespace ferry

// Propagation helpers.
#define FERRY_CONCAT_INNER(a, b) a##b
#define FERRY_CONCAT(a, b) FERRY_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                  \
  do {                                         \
    ::ferry::Status _st = (expr);              \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(FERRY_CONCAT(_res_, __LINE__), lhs, expr)
