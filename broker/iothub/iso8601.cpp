#include "broker/iothub/iso8601.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace holdfast::iothub {
namespace {

using namespace std::chrono;

// Year 0000-01-01 and 9999-12-31T23:59:59.999 in epoch milliseconds.
constexpr std::int64_t kMinMs = -62167219200000;
constexpr std::int64_t kMaxMs = 253402300799999;

// Reads exactly `n` digits at `pos`.
std::optional<int> digits(std::string_view text, std::size_t pos, std::size_t n) {
  if (pos + n > text.size()) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

bool at(std::string_view text, std::size_t pos, char c) {
  return pos < text.size() && text[pos] == c;
}

}  // namespace

std::optional<std::int64_t> parse_iso8601_utc_ms(std::string_view text) {
  auto y = digits(text, 0, 4);
  auto mo = digits(text, 5, 2);
  auto d = digits(text, 8, 2);
  auto h = digits(text, 11, 2);
  auto mi = digits(text, 14, 2);
  auto s = digits(text, 17, 2);
  if (!y || !mo || !d || !h || !mi || !s) return std::nullopt;
  if (!at(text, 4, '-') || !at(text, 7, '-') || !(at(text, 10, 'T') || at(text, 10, 't')) ||
      !at(text, 13, ':') || !at(text, 16, ':')) {
    return std::nullopt;
  }
  if (*h > 23 || *mi > 59 || *s > 59) return std::nullopt;
  year_month_day ymd{year{*y}, month{static_cast<unsigned>(*mo)}, day{static_cast<unsigned>(*d)}};
  if (!ymd.ok()) return std::nullopt;

  std::size_t pos = 19;
  int millis = 0;
  if (at(text, pos, '.')) {
    ++pos;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - start < 3) millis = millis * 10 + (text[pos] - '0');
      ++pos;
    }
    std::size_t n = pos - start;
    if (n == 0) return std::nullopt;
    for (std::size_t i = n; i < 3; ++i) millis *= 10;
  }
  std::string_view zone = text.substr(pos);
  if (zone != "Z" && zone != "z" && zone != "+00:00" && zone != "-00:00") return std::nullopt;

  auto t = sys_days{ymd} + hours{*h} + minutes{*mi} + seconds{*s} + milliseconds{millis};
  return duration_cast<milliseconds>(t.time_since_epoch()).count();
}

std::string format_iso8601_utc_ms(std::int64_t epoch_ms) {
  epoch_ms = std::clamp(epoch_ms, kMinMs, kMaxMs);
  sys_time<milliseconds> t{milliseconds{epoch_ms}};
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss hms{t - day_point};
  char buffer[64];  // ample: the compiler cannot see the values are in range
  std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d.%03dZ",
                static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()), static_cast<int>(hms.hours().count()),
                static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()),
                static_cast<int>(hms.subseconds().count()));
  return buffer;
}

std::string format_iso8601_utc_s(std::int64_t epoch_s) {
  constexpr std::int64_t kMaxS = kMaxMs / 1000;
  constexpr std::int64_t kMinS = kMinMs / 1000;
  std::string ms = format_iso8601_utc_ms(std::clamp(epoch_s, kMinS, kMaxS) * 1000);
  return ms.substr(0, 19) + "Z";
}

}  // namespace holdfast::iothub
