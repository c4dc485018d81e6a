#include "broker/core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <ctime>
#include <mutex>
#include <unordered_map>

namespace holdfast::core {
namespace {

struct Repeat {
  std::chrono::steady_clock::time_point window_start;
  std::uint64_t suppressed = 0;
};

struct LogState {
  std::mutex mu;
  std::atomic<LogLevel> level{LogLevel::kInfo};
  int fd = 2;
  std::chrono::milliseconds repeat_interval{10'000};
  std::function<std::chrono::steady_clock::time_point()> clock;
  std::unordered_map<std::string, Repeat> repeats;
};

LogState& state() {
  static LogState s;
  return s;
}

std::string timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
    case LogLevel::kOff:
      return "off";
  }
  return "?";
}

Result<LogLevel> parse_log_level(std::string_view name) {
  for (auto level : {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn,
                     LogLevel::kError, LogLevel::kOff}) {
    if (name == log_level_name(level)) return level;
  }
  return error(Code::kInvalidArgument, "unknown log level '" + std::string(name) +
                                           "' (expected trace, debug, info, warn, error, off)");
}

Status configure_logging(const LogOptions& options) {
  LogState& s = state();
  int fd = 2;
  if (!options.file.empty()) {
    fd = ::open(options.file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (fd < 0) {
      return {Code::kIoError, "cannot open log file " + options.file + ": " + std::strerror(errno)};
    }
  }
  std::lock_guard lock(s.mu);
  if (s.fd != 2) ::close(s.fd);
  s.fd = fd;
  s.level = options.level;
  s.repeat_interval = options.repeat_interval;
  s.clock = options.clock;
  s.repeats.clear();
  return {};
}

bool log_enabled(LogLevel level) {
  return level >= state().level.load(std::memory_order_relaxed);
}

void log(LogLevel level, std::string_view component, std::string_view message,
         std::string_view key) {
  if (!log_enabled(level) || level == LogLevel::kOff) return;
  LogState& s = state();
  std::string line;
  std::lock_guard lock(s.mu);
  if (s.repeat_interval.count() > 0) {
    std::string k = key.empty() ? std::string(component) + '\0' + std::string(message)
                                : std::string(component) + '\0' + std::string(key);
    auto now = s.clock ? s.clock() : std::chrono::steady_clock::now();
    auto [it, fresh] = s.repeats.try_emplace(std::move(k), Repeat{now, 0});
    if (!fresh) {
      if (now - it->second.window_start < s.repeat_interval) {
        ++it->second.suppressed;
        return;
      }
      if (it->second.suppressed > 0) {
        line = " (" + std::to_string(it->second.suppressed) +
               " similar lines suppressed in the last interval)";
      }
      it->second = Repeat{now, 0};
    }
    if (s.repeats.size() > 4096) s.repeats.clear();  // bound memory under varied messages
  }
  std::string out = timestamp();
  out += ' ';
  std::string_view name = log_level_name(level);
  out += name;
  out.append(6 - name.size(), ' ');
  out += component;
  out += ": ";
  out += message;
  out += line;
  out += '\n';
  ssize_t n = ::write(s.fd, out.data(), out.size());
  (void)n;  // nowhere to report a failure to log
}

}  // namespace holdfast::core
