#pragma once
// Options of the RocksDB queue store. Defaults fit a 1 GB, 2-core Raspberry-Pi-class box.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "broker/core/queue_store.h"

namespace holdfast::storage {

enum class SyncMode : std::uint8_t {
  // Every acknowledged append is on stable storage (WAL fsync'd, one fsync per group commit).
  // Survives power loss. The default.
  kFsync,
  // The WAL is written to the OS page cache but not fsync'd. Survives a crash of holdfastd,
  // not of the machine. Much cheaper on flash.
  kOs,
};

struct StoreOptions {
  std::string path;  // directory of the RocksDB store; created if missing
  SyncMode sync = SyncMode::kFsync;

  // Group commit: the store thread writes everything queued since its last write as one
  // WriteBatch, up to these limits per write. 1 message per batch turns group commit off
  // (one synced write per message), which only a benchmark wants.
  std::size_t max_batch_messages = 4096;
  std::size_t max_batch_bytes = 4 << 20;

  // Compress the write-ahead log with zstd (streaming, so repeated addresses and ids shrink
  // even in small records). Less flash wear for some CPU on the store thread.
  bool wal_compression = true;

  // RocksDB memory: a shared LRU block cache (holds index and filter blocks too, so memory does
  // not grow with the number or size of SST files) and the memtables.
  std::size_t block_cache_bytes = 8 << 20;
  std::size_t write_buffer_bytes = 8 << 20;  // one memtable; at most two per column family
  // RocksDB's own LOG file: size cap and how many old ones to keep.
  std::size_t info_log_max_bytes = 1 << 20;
  std::size_t info_log_keep = 3;

  // Store-wide byte quota over all queues (record bytes, not disk usage); 0 = unlimited.
  std::uint64_t quota_bytes = 0;
  core::OverflowPolicy quota_policy = core::OverflowPolicy::kReject;
  // Refuse appends while the store's filesystem has less free space than this.
  std::uint64_t min_free_disk_bytes = 64ull << 20;

  // Retention of each queue: the first pattern (MQTT wildcards over the queue name) that matches
  // decides; queues no pattern matches get `default_policy`.
  core::QueuePolicy default_policy;
  std::vector<std::pair<std::string, core::QueuePolicy>> policies;

  // How often the store thread looks for expired messages.
  std::chrono::milliseconds retention_interval{1000};

  // The clock used for received-at ages and TTLs (Unix epoch ms). Tests replace it.
  std::function<std::int64_t()> clock;
};

// The policy `options` give to queue `name`.
const core::QueuePolicy& policy_for(const StoreOptions& options, std::string_view name);

}  // namespace holdfast::storage
