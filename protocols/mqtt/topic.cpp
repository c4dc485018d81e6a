#include "protocols/mqtt/topic.h"

#include <cstdint>

namespace holdfast::mqtt {

bool is_valid_utf8(std::string_view s) {
  std::size_t i = 0;
  const std::size_t n = s.size();
  while (i < n) {
    const auto b0 = static_cast<std::uint8_t>(s[i]);
    if (b0 < 0x80) {
      if (b0 == 0) return false;
      ++i;
      continue;
    }
    std::size_t len = 0;
    std::uint32_t cp = 0;
    std::uint32_t min = 0;
    if ((b0 & 0xE0) == 0xC0) {
      len = 2, cp = b0 & 0x1F, min = 0x80;
    } else if ((b0 & 0xF0) == 0xE0) {
      len = 3, cp = b0 & 0x0F, min = 0x800;
    } else if ((b0 & 0xF8) == 0xF0) {
      len = 4, cp = b0 & 0x07, min = 0x10000;
    } else {
      return false;  // a continuation byte, or 0xF8..0xFF
    }
    if (n - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<std::uint8_t>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool is_valid_topic_name(std::string_view topic) {
  return !topic.empty() && topic.find_first_of("+#") == std::string_view::npos &&
         is_valid_utf8(topic);
}

bool is_shared_subscription(std::string_view filter) {
  return filter.starts_with("$share/");
}

namespace {

bool is_valid_plain_filter(std::string_view filter) {
  if (filter.empty()) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = filter.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view level = filter.substr(start, last ? filter.npos : slash - start);
    if (level.find_first_of("+#") != std::string_view::npos) {
      if (level.size() != 1) return false;      // a wildcard must be the whole level
      if (level == "#" && !last) return false;  // '#' only as the last level
    }
    if (last) return true;
    start = slash + 1;
  }
}

}  // namespace

bool is_valid_topic_filter(std::string_view filter) {
  if (!is_valid_utf8(filter)) return false;
  if (!is_shared_subscription(filter)) return is_valid_plain_filter(filter);
  const std::string_view rest = filter.substr(7);
  const std::size_t slash = rest.find('/');
  if (slash == 0 || slash == std::string_view::npos) return false;
  if (rest.substr(0, slash).find_first_of("+#") != std::string_view::npos) return false;
  return is_valid_plain_filter(rest.substr(slash + 1));
}

}  // namespace holdfast::mqtt
