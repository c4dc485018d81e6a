#include "broker/core/status.h"

namespace holdfast::core {

std::string_view code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidArgument:
      return "invalid-argument";
    case Code::kNotFound:
      return "not-found";
    case Code::kAlreadyExists:
      return "already-exists";
    case Code::kResourceExhausted:
      return "resource-exhausted";
    case Code::kTooLarge:
      return "too-large";
    case Code::kUnavailable:
      return "unavailable";
    case Code::kPermissionDenied:
      return "permission-denied";
    case Code::kUnauthenticated:
      return "unauthenticated";
    case Code::kUnsupported:
      return "unsupported";
    case Code::kCorruption:
      return "corruption";
    case Code::kIoError:
      return "io-error";
    case Code::kInternal:
      return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

}  // namespace holdfast::core
