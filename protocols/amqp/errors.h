#pragma once
// The one place where Holdfast errors become AMQP error conditions.
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::amqp {

inline constexpr std::string_view kUnauthorizedAccess = "amqp:unauthorized-access";
inline constexpr std::string_view kNotFound = "amqp:not-found";
inline constexpr std::string_view kResourceLimitExceeded = "amqp:resource-limit-exceeded";
inline constexpr std::string_view kMessageSizeExceeded = "amqp:link:message-size-exceeded";
inline constexpr std::string_view kDecodeError = "amqp:decode-error";
inline constexpr std::string_view kInternalError = "amqp:internal-error";
inline constexpr std::string_view kNotAllowed = "amqp:not-allowed";
inline constexpr std::string_view kInvalidField = "amqp:invalid-field";
inline constexpr std::string_view kConnectionForced = "amqp:connection:forced";

// A Status whose message starts with an AMQP condition name and ": " (e.g.
// "com.microsoft:device-container-throttled: 100/s") is refused with that condition: the hub
// emulator uses it, and the bridge can pass an upstream's condition through unchanged.
inline std::string_view explicit_condition(const std::string& message) {
  auto colon = message.find(": ");
  if (colon == std::string::npos) return {};
  std::string_view name(message.data(), colon);
  bool prefixed = name.starts_with("amqp:") || name.starts_with("com.microsoft:");
  if (!prefixed || name.find(' ') != std::string_view::npos) return {};
  return name;
}

// The condition a refused delivery or link carries for `code`.
inline std::string_view condition_for(core::Code code) {
  switch (code) {
    case core::Code::kResourceExhausted:
      return kResourceLimitExceeded;
    case core::Code::kTooLarge:
      return kMessageSizeExceeded;
    case core::Code::kNotFound:
      return kNotFound;
    case core::Code::kPermissionDenied:
    case core::Code::kUnauthenticated:
      return kUnauthorizedAccess;
    case core::Code::kInvalidArgument:
      return kInvalidField;
    case core::Code::kUnavailable:
      return kConnectionForced;
    default:
      return kInternalError;
  }
}

inline std::string_view condition_for(const core::Status& status) {
  std::string_view named = explicit_condition(status.message());
  return named.empty() ? condition_for(status.code()) : named;
}

}  // namespace holdfast::amqp
