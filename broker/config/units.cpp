#include "broker/config/units.h"

#include <array>
#include <charconv>
#include <limits>
#include <utility>

namespace holdfast::config {
namespace {

using core::Code;

constexpr std::uint64_t kMaxBytes = std::numeric_limits<std::int64_t>::max();

struct Unit {
  std::string_view name;
  std::uint64_t factor;
};

constexpr std::array<Unit, 10> kSizeUnits{{
    {"B", 1},
    {"KB", 1000},
    {"kB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
    {"TB", 1000ull * 1000 * 1000 * 1000},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"TiB", 1ull << 40},
}};

// Largest first, for formatting.
constexpr std::array<Unit, 4> kBinaryUnits{{
    {"TiB", 1ull << 40},
    {"GiB", 1ull << 30},
    {"MiB", 1ull << 20},
    {"KiB", 1ull << 10},
}};

constexpr std::array<Unit, 5> kDurationUnits{{
    {"d", 24ull * 60 * 60 * 1000},
    {"h", 60ull * 60 * 1000},
    {"m", 60ull * 1000},
    {"s", 1000},
    {"ms", 1},
}};

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads the leading digits of `text` into `value`; returns how many characters were digits,
// or 0 when there are none or the number does not fit in 64 bits.
std::size_t read_number(std::string_view text, std::uint64_t& value) {
  std::size_t n = 0;
  while (n < text.size() && is_digit(text[n])) ++n;
  if (n == 0) return 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + n, value);
  if (ec != std::errc() || end != text.data() + n) return 0;
  return n;
}

bool multiply(std::uint64_t a, std::uint64_t b, std::uint64_t limit, std::uint64_t& out) {
  if (a != 0 && b > limit / a) return false;
  out = a * b;
  return out <= limit;
}

}  // namespace

core::Result<std::uint64_t> parse_size(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return core::error(Code::kInvalidArgument, "\"" + std::string(text) + "\" " + std::string(why) +
                                                   "; expected " + std::string(kSizeForms));
  };
  std::uint64_t number = 0;
  std::size_t digits = read_number(text, number);
  if (digits == 0) {
    if (!text.empty() && is_digit(text[0])) return bad("is too large");
    return bad("is not a size");
  }
  std::string_view rest = text.substr(digits);
  if (rest.starts_with(' ')) rest.remove_prefix(1);
  std::uint64_t factor = 1;
  if (!rest.empty()) {
    bool found = false;
    for (const auto& unit : kSizeUnits) {
      if (rest == unit.name) {
        factor = unit.factor;
        found = true;
        break;
      }
    }
    if (!found) {
      if (rest.starts_with('.')) return bad("is not a whole number");
      return bad("has an unknown unit \"" + std::string(rest) + "\"");
    }
  } else if (digits != text.size()) {
    return bad("has a trailing space");
  }
  std::uint64_t bytes = 0;
  if (!multiply(number, factor, kMaxBytes, bytes)) return bad("is too large");
  return bytes;
}

std::string format_size(std::uint64_t bytes) {
  if (bytes == 0) return "0";
  for (const auto& unit : kBinaryUnits) {
    if (bytes % unit.factor == 0) {
      return std::to_string(bytes / unit.factor) + std::string(unit.name);
    }
  }
  return std::to_string(bytes);
}

core::Result<std::chrono::milliseconds> parse_duration(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return core::error(Code::kInvalidArgument, "\"" + std::string(text) + "\" " + std::string(why) +
                                                   "; expected " + std::string(kDurationForms));
  };
  if (text.empty()) return bad("is empty");
  constexpr std::uint64_t kLimit = std::numeric_limits<std::int64_t>::max();
  std::uint64_t total = 0;
  std::string_view rest = text;
  while (!rest.empty()) {
    std::uint64_t number = 0;
    std::size_t digits = read_number(rest, number);
    if (digits == 0) {
      if (is_digit(rest[0])) return bad("is too long");
      return bad("is not a duration");
    }
    rest.remove_prefix(digits);
    std::size_t letters = 0;
    while (letters < rest.size() && !is_digit(rest[letters])) ++letters;
    std::string_view name = rest.substr(0, letters);
    rest.remove_prefix(letters);
    if (name.empty()) return bad("has no unit");
    const Unit* unit = nullptr;
    for (const auto& u : kDurationUnits) {
      if (name == u.name) unit = &u;
    }
    if (unit == nullptr) return bad("has an unknown unit \"" + std::string(name) + "\"");
    std::uint64_t ms = 0;
    if (!multiply(number, unit->factor, kLimit, ms) || ms > kLimit - total) {
      return bad("is too long");
    }
    total += ms;
  }
  return std::chrono::milliseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::milliseconds duration) {
  std::int64_t ms = duration.count();
  if (ms == 0) return "0s";
  std::string sign;
  // The magnitude as unsigned so that the most negative value does not overflow.
  std::uint64_t magnitude = static_cast<std::uint64_t>(ms);
  if (ms < 0) {
    sign = "-";
    magnitude = ~magnitude + 1;
  }
  for (const auto& unit : kDurationUnits) {
    if (magnitude % unit.factor == 0) {
      return sign + std::to_string(magnitude / unit.factor) + std::string(unit.name);
    }
  }
  return sign + std::to_string(magnitude) + "ms";  // unreachable: the factor of ms is 1
}

}  // namespace holdfast::config
