#pragma once
// Process-wide logging: levels, one line per event, and rate-limited repeats so that an outage
// that fails the same way a thousand times a second writes a handful of lines, not gigabytes.
//
// Concurrency: every function may be called from any thread; a line is written with one
// write(2), so lines from different threads never interleave. Writing may block briefly on the
// log file: log state changes, not per-message events, on the io thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::core {

enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError, kOff };

std::string_view log_level_name(LogLevel level);
Result<LogLevel> parse_log_level(std::string_view name);

struct LogOptions {
  LogLevel level = LogLevel::kInfo;
  std::string file;  // empty: standard error
  // Within this interval a line with the same key as an earlier one is only counted; the count
  // is reported when the interval ends and the key is logged again.
  std::chrono::milliseconds repeat_interval{10'000};
  // The clock of the repeat intervals; empty: steady_clock. Tests replace it.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// Main thread, at start-up (also safe later). Opens the log file for appending.
Status configure_logging(const LogOptions& options);
bool log_enabled(LogLevel level);

// Writes "TIME LEVEL component: message". `key` identifies "the same message" for rate
// limiting; it defaults to component + message.
void log(LogLevel level, std::string_view component, std::string_view message,
         std::string_view key = {});

inline void log_info(std::string_view component, std::string_view message) {
  log(LogLevel::kInfo, component, message);
}
inline void log_warn(std::string_view component, std::string_view message) {
  log(LogLevel::kWarn, component, message);
}
inline void log_error(std::string_view component, std::string_view message) {
  log(LogLevel::kError, component, message);
}
inline void log_debug(std::string_view component, std::string_view message) {
  if (log_enabled(LogLevel::kDebug)) log(LogLevel::kDebug, component, message);
}

}  // namespace holdfast::core
