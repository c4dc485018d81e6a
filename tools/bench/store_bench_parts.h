#pragma once
// The parts of `holdfast-bench store` shared by its phases: options, the message factory, store
// helpers, the append load generator, and each phase's figures. One file per phase:
// store_bench.cpp (append, summary, command line), store_bench_drain.cpp, store_bench_reopen.cpp.

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/rocks_queue_store.h"
#include "tools/bench/bench_util.h"

namespace holdfast::bench::store_parts {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

inline constexpr const char* kCursor = "bench";

inline double seconds_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

inline double ms_between(Clock::time_point from, Clock::time_point to) {
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

std::vector<std::string> queue_names(unsigned count);
std::unique_ptr<storage::RocksQueueStore> open_store(storage::StoreOptions options);
std::optional<core::StoreStats> store_stats(core::QueueStore& store);
// Removes a store directory the benchmark made. Refuses anything that does not look like one.
bool remove_store_dir(const fs::path& dir);

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

AppendResult run_appends(core::QueueStore& store, const AppendLoad& load);

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

std::optional<DrainFigures> drain_run(const StoreBenchOptions& o, const fs::path& dir);

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

std::optional<ReopenFigures> reopen_run(const StoreBenchOptions& o, const fs::path& path);
// The hidden child `store-reopen PATH`: open, first stats, report, close.
int run_store_reopen(const std::string& path);

}  // namespace holdfast::bench::store_parts
