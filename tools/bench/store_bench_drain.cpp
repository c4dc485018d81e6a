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

// Phase 2: producers and a consumer at once; bytes written per payload byte.

namespace holdfast::bench::store_parts {
namespace {

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

}  // namespace

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

}  // namespace holdfast::bench::store_parts
