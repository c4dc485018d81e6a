#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/rocks_queue_store.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/store_bench_parts.h"

// Phase 3: reopen a store holding many messages, in a fresh child process.

namespace holdfast::bench::store_parts {
namespace {

// Runs `<this executable> store-reopen PATH` and parses its key=value lines.
std::optional<std::map<std::string, std::string>> spawn_reopen(const fs::path& path) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return std::nullopt;
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    const char* argv[] = {"holdfast-bench", "store-reopen", path.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    std::perror("holdfast-bench: exec /proc/self/exe");
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    out.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "holdfast-bench: store-reopen child failed (status %d): %s\n", status,
                 out.c_str());
    return std::nullopt;
  }
  std::map<std::string, std::string> values;
  std::size_t start = 0;
  while (start < out.size()) {
    std::size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    if (auto eq = line.find('='); eq != std::string::npos) {
      values[line.substr(0, eq)] = line.substr(eq + 1);
    }
    start = end + 1;
  }
  return values;
}

std::optional<ReopenSample> reopen_sample(const fs::path& path, std::string label) {
  ReopenSample s;
  s.label = std::move(label);
  s.usage_before = dir_usage(path);
  auto values = spawn_reopen(path);
  if (!values) return std::nullopt;
  auto number = [&](const char* key) { return std::strtod((*values)[key].c_str(), nullptr); };
  s.open_ms = number("open_ms");
  s.ready_ms = number("ready_ms");
  s.close_ms = number("close_ms");
  s.messages = static_cast<std::uint64_t>(number("messages"));
  s.queues = static_cast<std::uint64_t>(number("queues"));
  s.hwm_kb = static_cast<std::uint64_t>(number("vm_hwm_kb"));
  s.rss_before_kb = static_cast<std::uint64_t>(number("vm_rss_before_kb"));
  std::printf(
      "  %s: ready in %.1f ms (open %.1f ms), peak RSS %s (%s before open), close %.1f ms; "
      "%s messages in %s queues; WAL before reopen %s\n",
      s.label.c_str(), s.ready_ms, s.open_ms, format_bytes(s.hwm_kb * 1024.0).c_str(),
      format_bytes(s.rss_before_kb * 1024.0).c_str(), s.close_ms, format_count(s.messages).c_str(),
      format_count(s.queues).c_str(), format_bytes(double(s.usage_before.wal_bytes)).c_str());
  std::fflush(stdout);
  return s;
}

}  // namespace

std::optional<ReopenFigures> reopen_run(const StoreBenchOptions& o, const fs::path& path) {
  ReopenFigures f;
  std::error_code ec;
  std::uint64_t have = 0;
  {
    // Fill options: handed to the OS only, and large group-commit batches, so the fill is quick.
    storage::StoreOptions options;
    options.path = path.string();
    options.sync = storage::SyncMode::kOs;
    options.max_batch_messages = 64 * 1024;
    options.max_batch_bytes = 32 << 20;
    bool existed = fs::exists(path / "CURRENT", ec);
    if (existed) {
      // Counted read-only, so that a store needing no top-up is left exactly as it was (a
      // writable open would replay and flush its WAL before the measured reopen).
      auto reader = storage::RocksQueueStore::open_read_only(path.string());
      if (!reader) {
        std::fprintf(stderr, "holdfast-bench: cannot open %s: %s\n", path.c_str(),
                     reader.error().to_string().c_str());
        return std::nullopt;
      }
      auto stats = store_stats(**reader);
      if (!stats) return std::nullopt;
      have = stats->messages;
      std::printf("reopen: %s already holds %s messages in %s queues\n", path.c_str(),
                  format_count(have).c_str(), format_count(stats->queues).c_str());
    } else if (!remove_store_dir(path)) {
      return std::nullopt;
    }
    if (have < o.fill_messages) {
      auto store = open_store(options);
      if (!store) return std::nullopt;
      auto stats = store_stats(*store);
      if (!stats) return std::nullopt;
      have = stats->messages;
      std::uint64_t missing = have < o.fill_messages ? o.fill_messages - have : 0;
      std::printf(
          "reopen: filling %s with %s messages across %u queues (sync os, %u per append)"
          " ...\n",
          path.c_str(), format_count(missing).c_str(), o.fill_queues, o.fill_batch);
      std::fflush(stdout);
      AppendLoad load;
      load.producers = 2;  // encoding runs on the producers: two keep the store thread busy
      load.inflight = 4;
      load.batch_messages = o.fill_batch;
      load.messages = missing;
      load.queues = queue_names(o.fill_queues);
      load.payload_bytes = o.payload_bytes;
      load.devices = o.devices;
      load.seed = 11 + have;
      load.progress = true;
      AppendResult r = run_appends(*store, load);
      if (r.failed != 0) {
        std::fprintf(stderr, "holdfast-bench: fill: %s appends failed: %s\n",
                     format_count(r.failed).c_str(), r.first_error.c_str());
        return std::nullopt;
      }
      auto after = store_stats(*store);
      if (!after) return std::nullopt;
      have = after->messages;
      auto closing = Clock::now();
      store.reset();
      f.filled_now = true;
      f.fill_seconds = r.seconds;
      std::printf("  filled %s messages in %.1f s (%.0f/s), close %.1f ms\n",
                  format_count(r.completed).c_str(), r.seconds, r.completed / r.seconds,
                  ms_between(closing, Clock::now()));
    } else if (have > o.fill_messages) {
      std::printf("  (more than --fill-messages %s: measuring with all %s)\n",
                  format_count(o.fill_messages).c_str(), format_count(have).c_str());
    }
  }
  f.messages = have;
  f.usage = dir_usage(path);
  std::printf("  store: %s apparent, %s allocated, %s files, %s SST, WAL %s\n",
              format_bytes(double(f.usage.apparent_bytes)).c_str(),
              format_bytes(double(f.usage.allocated_bytes)).c_str(),
              format_count(f.usage.files).c_str(), format_count(f.usage.sst_files).c_str(),
              format_bytes(double(f.usage.wal_bytes)).c_str());
  std::fflush(stdout);

  if (o.cold) evict_from_page_cache(path);
  auto first = reopen_sample(path, o.cold ? "reopen 1 (cold page cache)" : "reopen 1");
  if (!first) return std::nullopt;
  f.samples.push_back(*first);
  auto second = reopen_sample(path, "reopen 2 (warm page cache)");
  if (!second) return std::nullopt;
  f.samples.push_back(*second);
  return f;
}

int run_store_reopen(const std::string& path) {
  auto rss_before = process_status_kb("VmRSS").value_or(0);
  auto t0 = Clock::now();
  storage::StoreOptions options;  // as holdfastd would open it: defaults
  options.path = path;
  auto store = open_store(options);
  if (!store) return 1;
  auto t1 = Clock::now();
  auto stats = store_stats(*store);
  auto t2 = Clock::now();
  if (!stats) return 1;
  auto hwm = process_status_kb("VmHWM").value_or(0);
  auto rss = process_status_kb("VmRSS").value_or(0);
  store.reset();
  auto t3 = Clock::now();
  std::printf(
      "open_ms=%.3f\nready_ms=%.3f\nclose_ms=%.3f\nmessages=%llu\nqueues=%llu\nvm_hwm_kb=%llu\n"
      "vm_rss_kb=%llu\nvm_rss_before_kb=%llu\n",
      ms_between(t0, t1), ms_between(t0, t2), ms_between(t2, t3),
      static_cast<unsigned long long>(stats->messages),
      static_cast<unsigned long long>(stats->queues), static_cast<unsigned long long>(hwm),
      static_cast<unsigned long long>(rss), static_cast<unsigned long long>(rss_before));
  return 0;
}

}  // namespace holdfast::bench::store_parts
