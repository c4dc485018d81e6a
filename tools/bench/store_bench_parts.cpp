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

namespace holdfast::bench::store_parts {

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

}  // namespace holdfast::bench::store_parts
