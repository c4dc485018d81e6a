#pragma once
// The one place where Holdfast errors become CoAP response codes.
#include <cstdint>

#include "broker/core/status.h"

namespace holdfast::coap {

// A CoAP response code class.detail (e.g. {4, 4} is 4.04), and whether it carries Max-Age as
// a retry hint.
struct ResponseCode {
  std::uint8_t cls = 5;
  std::uint8_t detail = 0;
  bool retry_hint = false;
  friend bool operator==(const ResponseCode&, const ResponseCode&) = default;
};

inline constexpr ResponseCode kCreated{2, 1};
inline constexpr ResponseCode kChanged{2, 4};
inline constexpr ResponseCode kContent{2, 5};
inline constexpr ResponseCode kBadRequest{4, 0};
inline constexpr ResponseCode kNotFound{4, 4};
inline constexpr ResponseCode kMethodNotAllowed{4, 5};
inline constexpr ResponseCode kRequestEntityIncomplete{4, 8};
inline constexpr ResponseCode kTooManyRequests{4, 29, true};
inline constexpr ResponseCode kServiceUnavailable{5, 3, true};

// The response to a request the broker refused with `code`:
//   kInvalidArgument 4.00, kUnauthenticated 4.01, kPermissionDenied 4.03, kNotFound 4.04,
//   kTooLarge 4.13, kResourceExhausted and kUnavailable 5.03 with Max-Age, else 5.00.
inline ResponseCode response_for(core::Code code) {
  switch (code) {
    case core::Code::kOk:
      return kChanged;
    case core::Code::kInvalidArgument:
      return kBadRequest;
    case core::Code::kUnauthenticated:
      return {4, 1};
    case core::Code::kPermissionDenied:
      return {4, 3};
    case core::Code::kNotFound:
      return kNotFound;
    case core::Code::kTooLarge:
      return {4, 13};
    case core::Code::kResourceExhausted:
    case core::Code::kUnavailable:
      return kServiceUnavailable;
    default:
      return {5, 0};
  }
}

}  // namespace holdfast::coap
