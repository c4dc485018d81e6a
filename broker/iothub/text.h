#pragma once
// Small string helpers private to broker/iothub. Not installed, not for other modules.

#include <string>
#include <string_view>

#include "broker/core/address.h"

namespace holdfast::iothub::detail {

using core::iequals;

// Text that came from the network or a file, made safe to put in a log line: quoted, cut at
// 120 bytes, control and non-ASCII bytes shown as '?'.
inline std::string quoted(std::string_view text) {
  constexpr std::size_t kMax = 120;
  std::string out = "'";
  for (std::size_t i = 0; i < text.size() && i < kMax; ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    out.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '?');
  }
  if (text.size() > kMax) out += "...";
  out.push_back('\'');
  return out;
}

}  // namespace holdfast::iothub::detail
