#include "tools/bench/store_bench.h"

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

namespace holdfast::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kCursor = "bench";

double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

struct StoreBenchOptions {
  unsigned producers = 4;
  unsigned inflight = 256;
  double append_seconds = 10;
  std::uint64_t append_messages = 0;
  std::size_t payload_bytes = 100;
  unsigned devices = 1000;
  unsigned queues = 1;
  std::uint64_t drain_messages = 1'000'000;
  std::uint64_t fill_messages = 10'000'000;
  unsigned fill_queues = 100;
  unsigned fill_batch = 1000;
  unsigned read_batch = 4096;
  std::string dir;
  bool keep = false;
  bool cold = true;
  std::vector<std::string> phases = {"append", "drain", "reopen"};
};

// ---------------------------------------------------------------------------------------------
// Messages: 100 random (incompressible, as encrypted payloads are) bytes from one of many
// devices, addressed as IoT Hub device-to-cloud telemetry.

class MessageFactory {
 public:
  MessageFactory(std::size_t payload_bytes, unsigned devices, std::uint64_t seed)
      : payload_bytes_(payload_bytes), devices_(std::max(devices, 1u)), state_(seed) {}

  core::Message next() {
    auto device = static_cast<unsigned>(random() % devices_);
    std::string id = strprintf("dev%04u", device);
    core::Message m;
    m.address = "devices/" + id + "/messages/events";
    m.payload.resize(payload_bytes_);
    for (std::size_t i = 0; i < payload_bytes_; i += 8) {
      std::uint64_t r = random();
      std::size_t n = std::min<std::size_t>(8, payload_bytes_ - i);
      for (std::size_t j = 0; j < n; ++j) m.payload[i + j] = static_cast<char>(r >> (8 * j));
    }
    m.origin.protocol = core::Protocol::kMqtt;
    m.origin.client_id = id;
    m.origin.device_id = std::move(id);
    return m;
  }

 private:
  std::uint64_t random() {  // splitmix64
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  std::size_t payload_bytes_;
  unsigned devices_;
  std::uint64_t state_;
};

std::vector<std::string> queue_names(unsigned count) {
  std::vector<std::string> names;
  for (unsigned i = 0; i < std::max(count, 1u); ++i) names.push_back(strprintf("upstream/%03u", i));
  return names;
}

// ---------------------------------------------------------------------------------------------
// Store helpers.

std::unique_ptr<storage::RocksQueueStore> open_store(storage::StoreOptions options) {
  std::string path = options.path;
  auto store = storage::RocksQueueStore::open(std::move(options));
  if (!store) {
    std::fprintf(stderr, "holdfast-bench: cannot open store at %s: %s\n", path.c_str(),
                 store.error().to_string().c_str());
    return nullptr;
  }
  return std::move(*store);
}

std::optional<core::StoreStats> store_stats(core::QueueStore& store) {
  auto stats =
      core::call_sync<core::StoreStats>([&](auto cb) { store.store_stats(std::move(cb)); });
  if (!stats) {
    std::fprintf(stderr, "holdfast-bench: store_stats failed: %s\n",
                 stats.error().to_string().c_str());
    return std::nullopt;
  }
  return *stats;
}

// Removes a store directory the benchmark made. Refuses anything that does not look like one.
bool remove_store_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return true;
  if (!fs::exists(dir / "CURRENT", ec) && !fs::is_empty(dir, ec)) {
    std::fprintf(stderr, "holdfast-bench: %s exists and is not a store; not touching it\n",
                 dir.c_str());
    return false;
  }
  fs::remove_all(dir, ec);
  if (ec) {
    std::fprintf(stderr, "holdfast-bench: cannot remove %s: %s\n", dir.c_str(),
                 ec.message().c_str());
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Appends from several producer threads, each keeping a window of appends in flight.

struct AppendLoad {
  unsigned producers = 4;
  unsigned inflight = 256;      // appends in flight per producer
  unsigned batch_messages = 1;  // messages per append call (all to one queue)
  std::uint64_t messages = 0;   // total; 0: run for `duration`
  Clock::duration duration{};
  std::vector<std::string> queues;
  std::size_t payload_bytes = 100;
  unsigned devices = 1000;
  std::uint64_t seed = 1;
  bool progress = false;  // print progress every few seconds
};

struct AppendResult {
  std::uint64_t completed = 0;  // messages acknowledged
  std::uint64_t failed = 0;     // messages whose append failed
  std::string first_error;
  double seconds = 0;           // from the first append call to the last callback
  LatencyHistogram latency_us;  // per append call
};

AppendResult run_appends(core::QueueStore& store, const AppendLoad& load) {
  // Touched by callbacks, i.e. by the store thread only (counters are atomic for progress).
  struct Shared {
    std::atomic<std::uint64_t> completed{0};
    std::uint64_t failed = 0;
    std::string first_error;
    Clock::time_point last_done{};
    LatencyHistogram latency_us;
  } shared;
  struct alignas(64) Window {
    std::atomic<std::uint32_t> in_flight{0};
  };
  const unsigned producers = std::max(load.producers, 1u);
  std::vector<Window> windows(producers);
  const unsigned batch = std::max(load.batch_messages, 1u);
  const auto started = Clock::now();
  const auto deadline = started + load.duration;

  auto producer = [&](unsigned p) {
    MessageFactory factory(load.payload_bytes, load.devices, load.seed * 1000003 + p);
    std::uint64_t quota = load.messages / producers + (p < load.messages % producers ? 1 : 0);
    std::uint64_t sent = 0;
    std::atomic<std::uint32_t>& in_flight = windows[p].in_flight;
    for (std::uint64_t i = 0;; ++i) {
      if (load.messages != 0 ? sent >= quota : Clock::now() >= deadline) break;
      std::uint32_t current = in_flight.load();
      while (current >= load.inflight) {
        in_flight.wait(current);
        current = in_flight.load();
      }
      std::size_t n = load.messages != 0 ? std::min<std::uint64_t>(batch, quota - sent) : batch;
      const std::string& queue = load.queues[(p + i * producers) % load.queues.size()];
      std::vector<core::AppendRequest> requests;
      requests.reserve(n);
      for (std::size_t k = 0; k < n; ++k) requests.push_back({queue, factory.next(), {}});
      in_flight.fetch_add(1);
      auto t0 = Clock::now();
      store.append(std::move(requests),
                   [&shared, &in_flight, t0, n](core::Result<std::vector<core::Seq>> result) {
                     auto t1 = Clock::now();
                     shared.latency_us.record(static_cast<std::uint64_t>(
                         std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
                     if (result) {
                       shared.completed.fetch_add(n, std::memory_order_relaxed);
                     } else {
                       if (shared.failed == 0) shared.first_error = result.error().to_string();
                       shared.failed += n;
                     }
                     shared.last_done = t1;
                     in_flight.fetch_sub(1);
                     in_flight.notify_one();
                   });
      sent += n;
    }
    // Wait for this producer's last appends; their callbacks then happened-before our return.
    for (std::uint32_t current = in_flight.load(); current != 0; current = in_flight.load()) {
      in_flight.wait(current);
    }
  };

  std::vector<std::thread> threads;
  std::atomic<unsigned> running{producers};
  for (unsigned p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      producer(p);
      running.fetch_sub(1);
    });
  }
  auto next_report = started + std::chrono::seconds(5);
  while (running.load() != 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (load.progress && Clock::now() >= next_report) {
      next_report += std::chrono::seconds(5);
      std::uint64_t done = shared.completed.load(std::memory_order_relaxed);
      double elapsed = seconds_between(started, Clock::now());
      if (load.messages != 0) {
        std::printf("  ... %s of %s messages (%.0f/s)\n", format_count(done).c_str(),
                    format_count(load.messages).c_str(), done / elapsed);
      } else {
        std::printf("  ... %s messages (%.0f/s)\n", format_count(done).c_str(), done / elapsed);
      }
      std::fflush(stdout);
    }
  }
  for (auto& t : threads) t.join();
  // A callback may still be returning from its notify_one(): one more round trip through the
  // store thread makes sure none is running before `windows` goes away.
  static_cast<void>(
      core::call_sync<core::StoreStats>([&](auto cb) { store.store_stats(std::move(cb)); }));

  AppendResult result;
  result.completed = shared.completed.load();
  result.failed = shared.failed;
  result.first_error = shared.first_error;
  result.seconds = seconds_between(started, std::max(shared.last_done, started));
  result.latency_us = shared.latency_us;
  return result;
}

// ---------------------------------------------------------------------------------------------
// Phase 1: group commit vs one synced write per message.

struct AppendFigures {
  std::string label;
  std::uint64_t messages = 0;
  std::uint64_t failed = 0;
  double seconds = 0;
  double per_second = 0;
  double fsyncs_per_message = 0;
  double avg_batch = 0;
  std::uint64_t max_batch = 0;
  double write_micros_per_batch = 0;
  std::uint64_t p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

std::optional<AppendFigures> append_run(const StoreBenchOptions& o, const fs::path& dir,
                                        const std::string& label, std::size_t max_batch) {
  if (!remove_store_dir(dir)) return std::nullopt;
  storage::StoreOptions options;
  options.path = dir.string();
  options.max_batch_messages = max_batch;  // the rest: defaults (sync = fsync)
  auto store = open_store(options);
  if (!store) return std::nullopt;

  AppendLoad load;
  load.producers = o.producers;
  load.inflight = o.inflight;
  load.messages = o.append_messages;
  load.duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.append_seconds));
  load.queues = queue_names(o.queues);
  load.payload_bytes = o.payload_bytes;
  load.devices = o.devices;
  load.seed = max_batch;
  load.progress = true;
  std::printf("%s: %u producers x %u in flight, one message per append, %s ...\n", label.c_str(),
              o.producers, o.inflight,
              o.append_messages != 0 ? (format_count(o.append_messages) + " messages").c_str()
                                     : strprintf("%.0f s", o.append_seconds).c_str());
  std::fflush(stdout);
  AppendResult r = run_appends(*store, load);
  auto stats = store_stats(*store);
  store.reset();
  if (!stats) return std::nullopt;
  if (r.failed != 0) {
    std::printf("  %s appends FAILED, first error: %s\n", format_count(r.failed).c_str(),
                r.first_error.c_str());
  }

  AppendFigures f;
  f.label = label;
  f.messages = r.completed;
  f.failed = r.failed;
  f.seconds = r.seconds;
  f.per_second = r.seconds > 0 ? r.completed / r.seconds : 0;
  f.fsyncs_per_message =
      stats->appended_messages ? double(stats->synced_batches) / stats->appended_messages : 0;
  f.avg_batch =
      stats->synced_batches ? double(stats->appended_messages) / stats->synced_batches : 0;
  f.max_batch = stats->max_batch_messages;
  f.write_micros_per_batch =
      stats->write_batches ? double(stats->total_write_micros) / stats->write_batches : 0;
  f.p50_us = r.latency_us.percentile(0.50);
  f.p99_us = r.latency_us.percentile(0.99);
  f.p999_us = r.latency_us.percentile(0.999);
  f.max_us = r.latency_us.max();
  std::printf(
      "  %s messages in %.2f s = %.0f appends/s; %s synced writes (%.4f fsyncs/message, "
      "avg %.1f, max %s messages per write, %.0f us per write)\n"
      "  append latency: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
      format_count(f.messages).c_str(), f.seconds, f.per_second,
      format_count(stats->synced_batches).c_str(), f.fsyncs_per_message, f.avg_batch,
      format_count(f.max_batch).c_str(), f.write_micros_per_batch, f.p50_us / 1e3, f.p99_us / 1e3,
      f.p999_us / 1e3, f.max_us / 1e3);
  std::fflush(stdout);
  if (!o.keep) remove_store_dir(dir);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Phase 2: producers and a consumer at once; bytes written per payload byte.

// Bytes of SST files RocksDB wrote, by flush and by compaction, from the EVENT_LOG_v1 lines of
// its LOG files (LOG.old.* first). A diagnostic: the LOG is size-capped, so a long run may have
// lost its oldest events.
struct SstWrites {
  bool found = false;
  std::uint64_t flush_bytes = 0, flush_files = 0, flush_entries = 0;
  std::uint64_t compaction_bytes = 0, compaction_files = 0;
};

std::uint64_t json_number(const std::string& line, std::string_view key) {
  std::string needle = "\"" + std::string(key) + "\": ";
  auto at = line.find(needle);
  return at == std::string::npos ? 0
                                 : std::strtoull(line.c_str() + at + needle.size(), nullptr, 10);
}

SstWrites parse_rocksdb_log(const fs::path& dir) {
  SstWrites w;
  std::vector<fs::path> logs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    std::string name = entry.path().filename().string();
    if (name.starts_with("LOG.old.")) logs.push_back(entry.path());
  }
  std::sort(logs.begin(), logs.end());
  logs.push_back(dir / "LOG");
  std::map<std::uint64_t, bool> job_is_flush;
  for (const auto& log : logs) {
    std::ifstream in(log);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("EVENT_LOG_v1") == std::string::npos) continue;
      std::uint64_t job = json_number(line, "job");
      if (line.find("\"event\": \"flush_started\"") != std::string::npos) job_is_flush[job] = true;
      if (line.find("\"event\": \"compaction_started\"") != std::string::npos) {
        job_is_flush[job] = false;
      }
      if (line.find("\"event\": \"table_file_creation\"") == std::string::npos) continue;
      w.found = true;
      std::uint64_t size = json_number(line, "file_size");
      auto kind = job_is_flush.find(job);
      if (kind != job_is_flush.end() && !kind->second) {
        w.compaction_bytes += size;
        ++w.compaction_files;
      } else {
        w.flush_bytes += size;
        ++w.flush_files;
        w.flush_entries += json_number(line, "num_entries");
      }
    }
  }
  return w;
}

struct DrainFigures {
  std::uint64_t messages = 0;
  std::uint64_t payload_bytes = 0;
  std::uint64_t record_bytes = 0;
  double seconds = 0;
  std::uint64_t written = 0;           // write_bytes delta, producers start to last commit
  std::uint64_t written_at_close = 0;  // ... to the store closed
  double per_payload_byte = 0;
  double per_record_byte = 0;
  std::uint64_t synced_batches = 0;
  double avg_batch = 0;
  DirUsage final_usage;
  std::uint64_t left_in_store = 0;
  double avg_depth = 0;  // messages appended but not yet committed, sampled every 50 ms
  std::uint64_t max_depth = 0;
  SstWrites sst;
};

std::optional<DrainFigures> drain_run(const StoreBenchOptions& o, const fs::path& dir) {
  if (!remove_store_dir(dir)) return std::nullopt;
  storage::StoreOptions options;
  options.path = dir.string();
  auto store = open_store(options);
  if (!store) return std::nullopt;
  auto queues = queue_names(o.queues);
  for (const auto& q : queues) {
    auto created = core::call_sync<core::Seq>(
        [&](auto cb) { store->create_cursor(q, kCursor, std::move(cb)); });
    if (!created) {
      std::fprintf(stderr, "holdfast-bench: create_cursor failed: %s\n",
                   created.error().to_string().c_str());
      return std::nullopt;
    }
  }
  auto before = store_stats(*store);
  if (!before) return std::nullopt;

  std::printf(
      "drain: %u producers x %u in flight and one consumer (read up to %u, commit), "
      "%s messages ...\n",
      o.producers, o.inflight, o.read_batch, format_count(o.drain_messages).c_str());
  std::fflush(stdout);
  auto io_before = process_write_bytes();
  auto started = Clock::now();

  // The consumer: reads ahead of its committed position and commits what it has read.
  std::uint64_t consumed = 0, payload_bytes = 0, record_bytes = 0;
  std::string consumer_error;      // the consumer's own
  std::atomic<bool> abort{false};  // set when the producers fail: the consumer would wait forever
  std::atomic<std::uint32_t> commits_in_flight{0};
  std::uint64_t depth_samples = 0, depth_sum = 0, depth_max = 0;
  std::thread consumer([&] {
    std::vector<core::Seq> next(queues.size(), 0);  // 0: from the cursor
    auto next_sample = Clock::now();
    while (consumed < o.drain_messages && consumer_error.empty() && !abort.load()) {
      if (Clock::now() >= next_sample) {
        next_sample += std::chrono::milliseconds(50);
        std::uint64_t depth = 0;
        for (const auto& q : queues) {
          auto qs = core::call_sync<core::QueueStats>(
              [&](auto cb) { store->queue_stats(q, std::move(cb)); });
          if (qs) depth += qs->depth;
        }
        ++depth_samples;
        depth_sum += depth;
        depth_max = std::max(depth_max, depth);
      }
      bool got = false;
      for (std::size_t q = 0; q < queues.size() && consumer_error.empty(); ++q) {
        core::ReadRequest request;
        request.cursor = kCursor;
        request.from = next[q];
        request.max_messages = o.read_batch;
        request.max_bytes = std::size_t{o.read_batch} * (o.payload_bytes + 256);
        auto read = core::call_sync<core::ReadResult>(
            [&](auto cb) { store->read(queues[q], request, std::move(cb)); });
        if (!read) {
          consumer_error = "read: " + read.error().to_string();
          break;
        }
        next[q] = read->next;
        if (read->messages.empty()) continue;
        got = true;
        for (const auto& m : read->messages) {
          payload_bytes += m.message.payload.size();
          record_bytes += m.stored_bytes;
        }
        consumed += read->messages.size();
        commits_in_flight.fetch_add(1);
        store->commit(queues[q], kCursor, read->messages.back().seq,
                      [&](core::Result<core::Seq> done) {
                        if (!done)
                          std::fprintf(stderr, "holdfast-bench: commit failed: %s\n",
                                       done.error().to_string().c_str());
                        commits_in_flight.fetch_sub(1);
                        commits_in_flight.notify_one();
                      });
      }
      if (!got) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    for (auto c = commits_in_flight.load(); c != 0; c = commits_in_flight.load()) {
      commits_in_flight.wait(c);
    }
  });

  AppendLoad load;
  load.producers = o.producers;
  load.inflight = o.inflight;
  load.messages = o.drain_messages;
  load.queues = queues;
  load.payload_bytes = o.payload_bytes;
  load.devices = o.devices;
  load.seed = 7;
  load.progress = true;
  AppendResult appended = run_appends(*store, load);
  if (appended.failed != 0) {
    std::printf("  %s appends FAILED, first error: %s\n", format_count(appended.failed).c_str(),
                appended.first_error.c_str());
    abort.store(true);
  }
  consumer.join();
  auto finished = Clock::now();
  auto io_done = process_write_bytes();
  auto stats = store_stats(*store);
  store.reset();
  auto io_closed = process_write_bytes();
  if (!consumer_error.empty() || abort.load()) {
    std::fprintf(stderr, "holdfast-bench: drain: %s\n",
                 consumer_error.empty() ? "appends failed" : consumer_error.c_str());
    return std::nullopt;
  }
  if (!stats) return std::nullopt;

  DrainFigures f;
  f.messages = consumed;
  f.payload_bytes = payload_bytes;
  f.record_bytes = record_bytes;
  f.seconds = seconds_between(started, finished);
  if (io_before && io_done && io_closed) {
    f.written = *io_done - *io_before;
    f.written_at_close = *io_closed - *io_before;
  }
  f.per_payload_byte = payload_bytes ? double(f.written) / payload_bytes : 0;
  f.per_record_byte = record_bytes ? double(f.written) / record_bytes : 0;
  f.synced_batches = stats->synced_batches - before->synced_batches;
  f.avg_batch = f.synced_batches ? double(stats->appended_messages) / f.synced_batches : 0;
  f.left_in_store = stats->messages;
  f.final_usage = dir_usage(dir);
  f.avg_depth = depth_samples ? double(depth_sum) / depth_samples : 0;
  f.max_depth = depth_max;
  f.sst = parse_rocksdb_log(dir);
  if (!io_before) std::printf("  /proc/self/io has no write_bytes: bytes written unknown\n");
  std::printf(
      "  %s messages through in %.2f s (%.0f/s), %.1f appended messages per synced write\n"
      "  payload %s, records %s (%.1f bytes per record), written to disk %s (%s incl. close)\n"
      "  = %.2f bytes written per payload byte, %.2f per record byte\n"
      "  consumer lag (queue depth, every 50 ms): avg %.0f, max %s messages\n"
      "  store after close: %s apparent, %s allocated, %s files (%s SST)\n",
      format_count(f.messages).c_str(), f.seconds, f.messages / std::max(f.seconds, 1e-9),
      f.avg_batch, format_bytes(double(payload_bytes)).c_str(),
      format_bytes(double(record_bytes)).c_str(), consumed ? double(record_bytes) / consumed : 0.0,
      format_bytes(double(f.written)).c_str(), format_bytes(double(f.written_at_close)).c_str(),
      f.per_payload_byte, f.per_record_byte, f.avg_depth, format_count(f.max_depth).c_str(),
      format_bytes(double(f.final_usage.apparent_bytes)).c_str(),
      format_bytes(double(f.final_usage.allocated_bytes)).c_str(),
      format_count(f.final_usage.files).c_str(), format_count(f.final_usage.sst_files).c_str());
  if (f.sst.found) {
    std::printf(
        "  of the bytes written, RocksDB LOG shows SST files: flushes %s (%s files, %s records "
        "not yet deleted when flushed), compactions %s (%s files); the rest is mostly WAL\n",
        format_bytes(double(f.sst.flush_bytes)).c_str(), format_count(f.sst.flush_files).c_str(),
        format_count(f.sst.flush_entries).c_str(),
        format_bytes(double(f.sst.compaction_bytes)).c_str(),
        format_count(f.sst.compaction_files).c_str());
  }
  std::fflush(stdout);
  if (!o.keep) remove_store_dir(dir);
  return f;
}

// ---------------------------------------------------------------------------------------------
// Phase 3: reopen a store holding many messages, in a fresh child process.

struct ReopenSample {
  std::string label;
  DirUsage usage_before;  // of the store directory, just before the reopen
  double open_ms = 0;     // RocksQueueStore::open
  double ready_ms = 0;    // ... plus the first store_stats answer
  double close_ms = 0;
  std::uint64_t messages = 0;
  std::uint64_t queues = 0;
  std::uint64_t hwm_kb = 0;         // peak RSS of the child (VmHWM), read once ready
  std::uint64_t rss_before_kb = 0;  // its RSS before the open
};

struct ReopenFigures {
  std::uint64_t messages = 0;
  bool filled_now = false;
  double fill_seconds = 0;
  DirUsage usage;
  std::vector<ReopenSample> samples;
};

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

// The hidden child: open, first stats, report, close.
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

// ---------------------------------------------------------------------------------------------
// The whole benchmark and its summary.

std::string ms(double v) {
  return strprintf("%.2f ms", v);
}

std::string versus(double measured, double target) {
  return target > 0 ? strprintf("%.2f", measured / target) : "-";
}

std::string verdict(double measured, double target) {
  return measured <= target ? "meets" : "misses";
}

int run_store(StoreBenchOptions o) {
  auto wanted = [&](std::string_view phase) {
    return std::find(o.phases.begin(), o.phases.end(), phase) != o.phases.end();
  };
  for (const auto& p : o.phases) {
    if (p != "append" && p != "drain" && p != "reopen") {
      std::fprintf(stderr, "holdfast-bench: unknown phase '%s' (append, drain, reopen)\n",
                   p.c_str());
      return 2;
    }
  }
  if (o.producers == 0 || o.inflight == 0 || o.fill_batch == 0 || o.queues == 0 ||
      o.fill_queues == 0) {
    std::fprintf(stderr, "holdfast-bench: counts must be at least 1\n");
    return 2;
  }

  std::error_code ec;
  fs::path base;
  bool made_base = false;
  if (o.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "holdfast-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("holdfast-bench: mkdtemp");
      return 1;
    }
    base = tmpl;
    made_base = true;
  } else {
    base = o.dir;
    made_base = !fs::exists(base, ec);
    fs::create_directories(base, ec);
    if (ec) {
      std::fprintf(stderr, "holdfast-bench: cannot create %s: %s\n", base.c_str(),
                   ec.message().c_str());
      return 1;
    }
  }
  std::printf("holdfast-bench store: stores under %s%s; payload %zu bytes, %u devices\n",
              base.c_str(), o.keep ? " (kept)" : "", o.payload_bytes, o.devices);
  std::fflush(stdout);

  std::optional<AppendFigures> group, single;
  std::optional<DrainFigures> drain;
  std::optional<ReopenFigures> reopen;
  bool failed = false;
  if (wanted("append")) {
    group = append_run(o, base / "group-commit", "group commit",
                       storage::StoreOptions{}.max_batch_messages);
    single = append_run(o, base / "one-sync", "one sync per message (max_batch_messages = 1)", 1);
    failed |= !group || !single;
  }
  if (wanted("drain")) {
    drain = drain_run(o, base / "drain");
    failed |= !drain;
  }
  if (wanted("reopen")) {
    reopen = reopen_run(o, base / "filled");
    failed |= !reopen;
  }

  std::printf("\nSummary\n");
  Table table({"figure", "measured", "target", "measured/target", ""});
  if (group && single) {
    for (const auto* f : {&*group, &*single}) {
      std::string name = f == &*group ? "group commit" : "one sync/message";
      table.add({name + ": durable appends/s", strprintf("%.0f", f->per_second), "", "", ""});
      table.add(
          {name + ": fsyncs per message", strprintf("%.4f", f->fsyncs_per_message), "", "", ""});
      table.add(
          {name + ": messages per write (avg/max)",
           strprintf("%.1f / %llu", f->avg_batch, static_cast<unsigned long long>(f->max_batch)),
           "", "", ""});
      table.add({name + ": append latency p50 / p99",
                 strprintf("%.2f / %.2f ms", f->p50_us / 1e3, f->p99_us / 1e3), "", "", ""});
    }
    table.add(
        {"group commit speed-up (appends/s ratio)",
         strprintf("%.1fx", single->per_second > 0 ? group->per_second / single->per_second : 0.0),
         "", "", ""});
  }
  if (drain) {
    table.add({"drain: bytes written per payload byte", strprintf("%.2f", drain->per_payload_byte),
               "<= 1.5", versus(drain->per_payload_byte, 1.5),
               verdict(drain->per_payload_byte, 1.5)});
    table.add({"drain: bytes written per record byte", strprintf("%.2f", drain->per_record_byte),
               "", "", ""});
    table.add({"drain: store size after close",
               format_bytes(double(drain->final_usage.allocated_bytes)), "", "", ""});
  }
  if (reopen) {
    const std::string held = format_count(reopen->messages) + " msgs";
    for (const auto& s : reopen->samples) {
      table.add({s.label + ": ready, " + held, ms(s.ready_ms), "<= 1000 ms",
                 versus(s.ready_ms, 1000), verdict(s.ready_ms, 1000)});
      double mib = s.hwm_kb / 1024.0;
      table.add({s.label + ": peak RSS", strprintf("%.1f MiB", mib), "<= 64 MiB", versus(mib, 64),
                 verdict(mib, 64)});
    }
    table.add(
        {"filled store size", format_bytes(double(reopen->usage.allocated_bytes)), "", "", ""});
  }
  table.print(stdout);
  std::fflush(stdout);

  if (!o.keep) {
    for (const char* sub : {"group-commit", "one-sync", "drain", "filled"}) {
      remove_store_dir(base / sub);
    }
    if (made_base) fs::remove(base, ec);  // only if now empty
  } else {
    std::printf("stores kept under %s\n", base.c_str());
  }
  return failed ? 1 : 0;
}

}  // namespace

void add_store_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<StoreBenchOptions>();
  StoreBenchOptions& o = *options;
  CLI::App* store = app.add_subcommand(
      "store",
      "Benchmark the RocksDB queue store: (append) durable appends/s with group commit vs one "
      "synced write per message, fsyncs per message, batch size and append latency; (drain) bytes "
      "written to disk per payload byte while a consumer reads and commits as producers append; "
      "(reopen) reopen-to-ready time and peak RSS of a store holding --fill-messages messages, in "
      "a fresh child process. Prints figures and a summary against the targets; asserts "
      "nothing.");
  auto option = [store](const char* name, auto& value, const char* help) {
    return store->add_option(name, value, help)->capture_default_str();
  };
  option("--producers", o.producers, "producer threads appending (append and drain phases)");
  option("--inflight", o.inflight,
         "appends each producer keeps in flight (each append is one message)");
  option("--append-seconds", o.append_seconds,
         "duration of each append run (group commit, then one sync per message)");
  option("--append-messages", o.append_messages,
         "if non-zero, each append run stops after this many messages instead of after "
         "--append-seconds");
  option("--payload-bytes", o.payload_bytes, "payload size of every message (random bytes)");
  option("--devices", o.devices, "distinct devices; addresses are devices/devNNNN/messages/events");
  option("--queues", o.queues,
         "queues the append and drain phases spread messages over (upstream/NNN)");
  option("--drain-messages", o.drain_messages, "messages appended and consumed in the drain phase");
  option("--read-batch", o.read_batch, "most messages the drain consumer reads per read call");
  option("--fill-messages", o.fill_messages,
         "messages the reopen phase's store holds (filled with sync os; a store already holding "
         "them is reused, one holding fewer is topped up)");
  option("--fill-queues", o.fill_queues, "queues the fill spreads messages over");
  option("--fill-batch", o.fill_batch, "messages per append call during the fill");
  option("--dir", o.dir,
         "directory for the stores (group-commit/, one-sync/, drain/, filled/); default: a new "
         "/tmp/holdfast-bench-XXXXXX. Reuse it with --keep to skip the fill next time");
  store->add_flag("--keep", o.keep,
                  "keep the stores at the end (default: removed); needed to reuse the filled "
                  "store with --dir");
  store->add_flag("--cold,!--warm", o.cold,
                  "drop the filled store from the page cache (posix_fadvise) before the first "
                  "reopen; --warm skips that (default: --cold)");
  option("--phases", o.phases, "phases to run, comma-separated: any of append, drain, reopen")
      ->delimiter(',');
  store->callback([options, &exit_code] { exit_code = run_store(*options); });

  auto path = std::make_shared<std::string>();
  CLI::App* reopen = app.add_subcommand(
      "store-reopen", "internal: open the store at PATH, answer store_stats, print key=value");
  reopen->group("");  // hidden
  reopen->add_option("path", *path, "store directory")->required();
  reopen->callback([path, &exit_code] { exit_code = run_store_reopen(*path); });
}

}  // namespace holdfast::bench
