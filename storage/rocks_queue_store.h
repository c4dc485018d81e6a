#pragma once
// RocksQueueStore: the QueueStore on RocksDB (see broker/core/queue_store.h for the contract).
//
// Operation
//   One store thread owns the database and does group commit: every append queued while the
//   previous write was in progress goes into the next single WriteBatch, written with one
//   fsync. Keys are queue id | sequence number; consumed records are removed with DeleteRange
//   and reads start at the cursor with iterate_lower_bound, so deleted records are never
//   scanned. Per-queue counts and bytes are kept in a small per-queue record, never by scanning.
//
// Concurrency
//   All methods may be called from any thread and return at once; callbacks run on the store
//   thread (see QueueStore). open() and the destructor block and belong to the main thread.
//
// Limitations
//   One process owns a store at a time (RocksDB's LOCK file). Other processes may open it
//   read-only with open_read_only(), which follows the owner's writes at each operation.

#include <memory>
#include <string>

#include "broker/core/queue_store.h"
#include "storage/options.h"

namespace holdfast::storage {

class StoreImpl;

class RocksQueueStore final : public core::QueueStore {
 public:
  // Opens or creates the store at options.path and starts its thread. Errors: kIoError (cannot
  // create or lock the directory, e.g. another holdfastd owns it), kUnsupported (written by a
  // newer Holdfast), kCorruption.
  static core::Result<std::unique_ptr<RocksQueueStore>> open(StoreOptions options);

  // Opens an existing store read-only, whether or not another process owns it. Mutations fail
  // with kUnsupported. Errors: kNotFound (no store there), kUnsupported, kCorruption, kIoError.
  static core::Result<std::unique_ptr<RocksQueueStore>> open_read_only(const std::string& path);

  // Runs every operation already queued (so in-flight appends are completed), then closes.
  ~RocksQueueStore() override;

  void append(std::vector<core::AppendRequest> batch,
              core::Callback<std::vector<core::Seq>> done) override;
  void read(std::string queue, core::ReadRequest request,
            core::Callback<core::ReadResult> done) override;
  void commit(std::string queue, std::string cursor, core::Seq upto,
              core::Callback<core::Seq> done) override;
  void create_cursor(std::string queue, std::string cursor,
                     core::Callback<core::Seq> done) override;
  void delete_cursor(std::string queue, std::string cursor, core::Callback<void> done) override;
  void purge(std::string queue, core::Callback<std::uint64_t> done) override;
  void queue_stats(std::string queue, core::Callback<core::QueueStats> done) override;
  void list_queues(core::Callback<std::vector<core::QueueStats>> done) override;
  void store_stats(core::Callback<core::StoreStats> done) override;

  // Expires messages past their TTL and deletes consumed records now, instead of at the next
  // retention interval. For tests and tools.
  void run_retention(core::Callback<void> done);

 private:
  RocksQueueStore() = default;
  std::unique_ptr<StoreImpl> impl_;
  std::function<std::int64_t()> clock_;
  std::string scratch_dir_;  // the secondary's own directory when read-only
};

}  // namespace holdfast::storage
