#pragma once
// Sizes and durations as written in holdfast.toml. Pure functions; any thread; never block.
//
// Sizes: a number of bytes, optionally followed (with at most one space) by a unit:
//   B; KB, MB, GB, TB (powers of 1000; "kB" too); KiB, MiB, GiB, TiB (powers of 1024).
//   "1073741824", "1GiB", "512MiB", "10MB", "64 KiB". Whole numbers only.
// Durations: one or more number+unit groups, units ms, s, m, h, d: "250ms", "10s", "30m",
//   "12h", "7d", "1h30m", "0s". A bare number has no unit and is refused.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::config {

// What the error messages say is accepted; reused by the loader's messages.
inline constexpr std::string_view kSizeForms =
    "a number of bytes (e.g. 1048576) or a string such as \"64KiB\", \"512MiB\", \"1GiB\", "
    "\"10MB\" (units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)";
inline constexpr std::string_view kDurationForms =
    "a string such as \"250ms\", \"10s\", \"30m\", \"12h\", \"7d\" or \"1h30m\" "
    "(units ms, s, m, h, d)";

// Bytes in `text`. Errors: kInvalidArgument (malformed, unknown unit, more than 2^63-1 bytes).
core::Result<std::uint64_t> parse_size(std::string_view text);

// The shortest exact form: "0", "64MiB", "1GiB", "1000" (no binary unit divides it).
std::string format_size(std::uint64_t bytes);

// The duration in `text`. Errors: kInvalidArgument (malformed, no unit, unknown unit, more
// than about 292 million years).
core::Result<std::chrono::milliseconds> parse_duration(std::string_view text);

// The largest single unit that is exact: "0s", "250ms", "10s", "90m", "7d". Negative
// durations are formatted with a leading '-' (never produced by the loader).
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace holdfast::config
