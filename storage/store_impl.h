#pragma once
// StoreImpl: the RocksDB queue store behind RocksQueueStore. Private to storage/.
//
// Operation
//   Callers on any thread queue operations (Op) under a mutex. The store thread takes all
//   queued operations at once (a round, up to the group-commit limits), applies the mutations to
//   its in-memory state and to one WriteBatch, writes that batch with a single fsync, and only
//   then completes the mutations' callbacks. Queries (reads, stats) are served after the write,
//   so they see everything queued before them. Retention (TTL, physical deletes) joins a round
//   every `retention_interval`.
//
// Concurrency
//   Everything below `// store thread` is touched by the store thread only; no locks. The op
//   queue is the only shared state.
//
// Limitations
//   A drop to make room (drop-oldest) only drops records already durable, never those appended
//   in the same round. Store-wide quota drops are never dead-lettered (that would not free
//   space).

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <rocksdb/db.h>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/queue_state.h"
#include "storage/record.h"

namespace holdfast::storage {

struct AppendOp {
  std::vector<core::AppendRequest> batch;
  std::vector<std::string> records;  // encoded on the caller's thread
  std::uint64_t bytes = 0;
  core::Callback<std::vector<core::Seq>> done;
};
struct CommitOp {
  std::string queue, cursor;
  core::Seq upto = 0;
  core::Callback<core::Seq> done;
};
struct CreateCursorOp {
  std::string queue, cursor;
  core::Callback<core::Seq> done;
};
struct DeleteCursorOp {
  std::string queue, cursor;
  core::Callback<void> done;
};
struct PurgeOp {
  std::string queue;
  core::Callback<std::uint64_t> done;
};
struct RetentionOp {
  core::Callback<void> done;
};
struct ReadOp {
  std::string queue;
  core::ReadRequest request;
  core::Callback<core::ReadResult> done;
};
struct QueueStatsOp {
  std::string queue;
  core::Callback<core::QueueStats> done;
};
struct ListQueuesOp {
  core::Callback<std::vector<core::QueueStats>> done;
};
struct StoreStatsOp {
  core::Callback<core::StoreStats> done;
};
using Op = std::variant<AppendOp, CommitOp, CreateCursorOp, DeleteCursorOp, PurgeOp, RetentionOp,
                        ReadOp, QueueStatsOp, ListQueuesOp, StoreStatsOp>;

// Completes an op with an error, whatever its kind.
void fail_op(Op& op, const core::Status& status);

class StoreImpl {
 public:
  // Main thread. Opens (or creates) the store and starts the store thread. For `read_only`,
  // opens as a RocksDB secondary of a store another process may be writing, with its own
  // scratch directory `secondary_path`.
  static core::Result<std::unique_ptr<StoreImpl>> open(StoreOptions options, bool read_only,
                                                       std::string secondary_path);
  // Finishes every queued op, stops the store thread and closes RocksDB.
  ~StoreImpl();

  // Any thread; never blocks on I/O.
  void submit(Op op);

 private:
  StoreImpl() = default;
  core::Status open_db(bool read_only, const std::string& secondary_path);
  core::Status check_format_version();
  core::Status load_metadata();

  // store thread
  void run();
  void run_round(std::deque<Op>& ops, bool retention_due);
  bool is_mutation(const Op& op) const;
  void apply(Op& op);
  void serve(Op& op);
  core::Status write_round(bool sync);

  // mutations.cpp
  void apply_append(AppendOp& op);
  void apply_commit(CommitOp& op);
  void apply_create_cursor(CreateCursorOp& op);
  void apply_delete_cursor(DeleteCursorOp& op);
  void apply_purge(PurgeOp& op);
  QueueState* find_queue(std::string_view name);
  QueueState& get_or_create_queue(const std::string& name);
  core::Seq append_record(QueueState& q, std::string record);
  core::Result<RecordHeader> header_at(const QueueState& q, core::Seq seq);
  core::Status advance_head(QueueState& q, core::Seq new_head);
  void release_consumed(QueueState& q);
  void delete_consumed(QueueState& q, bool force);
  void mark_dirty(QueueState& q);

  // retention.cpp
  core::Status check_disk_space();
  core::Status make_room(const AppendOp& op);
  core::Status drop_from_head(QueueState& q, std::uint64_t bytes_needed, std::uint64_t max_count,
                              std::int64_t expire_before_ms, const char* reason, bool allow_dlq,
                              std::uint64_t* freed);
  void dead_letter(QueueState& from, core::Seq seq, std::string_view record, const char* reason);
  void run_retention();

  // queries.cpp
  void serve_read(ReadOp& op);

  std::int64_t now() const { return options_.clock(); }

  StoreOptions options_;
  bool read_only_ = false;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // [default, messages, meta]
  rocksdb::ColumnFamilyHandle* messages_ = nullptr;
  rocksdb::ColumnFamilyHandle* meta_ = nullptr;

  // store thread
  std::unordered_map<std::string, std::unique_ptr<QueueState>> queues_;
  std::unordered_map<std::uint32_t, QueueState*> queues_by_id_;
  std::uint32_t next_queue_id_ = 1;
  std::uint64_t total_bytes_ = 0;
  core::StoreStats stats_;
  rocksdb::WriteBatch batch_;
  bool round_has_appends_ = false;
  std::uint64_t round_messages_ = 0;  // records appended in this round
  std::vector<QueueState*> dirty_;
  // Headers of the records appended in this round, per queue id, from durable_next on.
  std::unordered_map<std::uint32_t, std::vector<RecordHeader>> pending_;
  std::vector<std::move_only_function<void(const core::Status&)>> completions_;
  std::int64_t disk_checked_at_ms_ = 0;
  core::Status disk_status_;
  bool needs_resume_ = false;

  // shared with callers
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> ops_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace holdfast::storage
