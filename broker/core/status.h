#pragma once
// Status and Result<T>: how every Holdfast module reports errors without exceptions.
//
// A Status is a code plus a human-readable reason. The code is what programs branch on (an
// adapter turns it into a protocol reason code in one place); the message is what an operator
// reads, so it says what failed and, where possible, what to do about it.
//
// Status is [[nodiscard]]: ignoring one must be explicit and searchable, with `.ignore()`.

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace holdfast::core {

enum class Code : std::uint8_t {
  kOk = 0,
  kInvalidArgument,    // the caller asked for something malformed (bad name, bad range)
  kNotFound,           // no such queue, cursor, route or message
  kAlreadyExists,      // creating something that is there already
  kResourceExhausted,  // a quota or the disk is full; retry later, nothing stored was harmed
  kTooLarge,           // one item is larger than any limit allows; retrying cannot help
  kUnavailable,        // shutting down or not ready; retry elsewhere or later
  kPermissionDenied,   // authenticated but not allowed
  kUnauthenticated,    // no valid credentials
  kUnsupported,        // e.g. a store written by a newer Holdfast, a read-only handle
  kCorruption,         // stored data does not decode; needs an operator
  kIoError,            // the operating system or RocksDB failed to read or write
  kInternal,           // a bug: an invariant did not hold
};

// Stable lower-case name of a code, e.g. "resource-exhausted"; used in logs and JSON.
std::string_view code_name(Code code);

class [[nodiscard]] Status {
 public:
  // OK.
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status ok_status() { return {}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }

  // "resource-exhausted: queue 'x' is full ..." or "ok".
  std::string to_string() const;

  // Explicitly discard a Status. Grep for `.ignore()` to audit where errors are dropped.
  void ignore() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

// A value or the Status that explains why there is none. A Result never holds an OK Status.
template <typename T>
using Result = std::expected<T, Status>;

// Shorthand for returning a failed Result: `return error(Code::kNotFound, "no queue 'x'");`
inline std::unexpected<Status> error(Code code, std::string message) {
  return std::unexpected<Status>(Status(code, std::move(message)));
}
inline std::unexpected<Status> error(Status status) {
  return std::unexpected<Status>(std::move(status));
}

}  // namespace holdfast::core
