#pragma once
// QueueStore: named durable queues, the heart of store-and-forward.
//
// Operation
//   A queue is an ordered log. Every appended message gets the next sequence number of its
//   queue (1, 2, 3, ... with no gaps). Consumers are named cursors; a cursor's position is the
//   next sequence number it has not consumed. Messages below the lowest cursor are gone.
//   Queues and cursors are created on demand. Retention (TTL, byte quotas) may drop messages
//   from the head of a queue; drops are counted and can go to a dead-letter queue.
//
// Concurrency
//   Every operation may be called from any thread and never blocks the caller: it is queued
//   to the store's own thread, which runs it and then invokes the callback exactly once, on
//   the store thread. A callback must be quick and must not block: post the result to your
//   own thread (an io loop posts it to itself). Operations from one thread run in the order
//   they were called. Use call_sync() from threads that may block (tools, tests, bridge).
//
// Visibility
//   A read returns only durable messages: an append whose callback has not fired yet may be
//   missing from a read issued after it (it is never missing once the callback reported
//   success). So a consumer never sees a message whose write could still fail. Statistics
//   count an append as soon as it is queued in the store's current write.
//
// Durability
//   An append's callback reports success only once the message is durable under the store's
//   sync mode (`fsync`: on stable storage; `os`: handed to the OS, survives a process crash
//   but not a power cut). Cursor commits are written without waiting for stable storage: a
//   commit lost in a power cut means redelivery, never loss.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/message.h"
#include "broker/core/status.h"

namespace holdfast::core {

using Seq = std::uint64_t;  // per-queue sequence number; the first message of a queue is 1

template <typename T>
using Callback = std::move_only_function<void(Result<T>)>;

enum class OverflowPolicy : std::uint8_t {
  kReject,      // appends fail with kResourceExhausted; nothing stored is touched
  kDropOldest,  // the oldest messages are dropped (counted, dead-lettered if configured)
};

// Retention rules of one queue.
struct QueuePolicy {
  std::int64_t ttl_ms = 0;      // drop messages older than this; 0 keeps them forever
  std::uint64_t max_bytes = 0;  // byte quota of the queue; 0 means only the store quota applies
  OverflowPolicy overflow = OverflowPolicy::kReject;
  std::string dead_letter_queue;  // where expired and dropped messages go; empty: nowhere

  friend bool operator==(const QueuePolicy&, const QueuePolicy&) = default;
};

// Why and from where a message was dead-lettered; kept with the message so it can be replayed.
struct DeadLetterInfo {
  std::string reason;  // "expired", "quota", or a reason given by whoever dead-lettered it
  std::string original_queue;
  Seq original_seq = 0;
  std::int64_t dead_lettered_at_ms = 0;

  friend bool operator==(const DeadLetterInfo&, const DeadLetterInfo&) = default;
};

struct AppendRequest {
  std::string queue;
  Message message;
  std::optional<DeadLetterInfo> dead_letter;  // set when appending to a dead-letter queue
};

struct StoredMessage {
  Seq seq = 0;
  Message message;
  std::optional<DeadLetterInfo> dead_letter;
  std::size_t stored_bytes = 0;  // size of the record on disk, as counted by quotas
};

struct ReadRequest {
  // Read from this cursor's position (the queue's head if the cursor does not exist; reading
  // never creates one)...
  std::string cursor;
  // ...or, when non-zero, from this sequence number (a consumer with a window of unsettled
  // messages reads ahead of its committed position). Sequence numbers below the queue's head
  // are skipped: those messages are gone.
  Seq from = 0;
  std::size_t max_messages = 100;
  std::size_t max_bytes = 1 << 20;  // at least one message is returned even if larger
};

struct ReadResult {
  std::vector<StoredMessage> messages;
  Seq next = 0;  // where to continue reading
};

struct CursorStats {
  std::string name;
  Seq position = 0;  // next sequence number to consume
  friend bool operator==(const CursorStats&, const CursorStats&) = default;
};

// Per-queue statistics, kept up to date without scanning the queue.
struct QueueStats {
  std::string name;
  Seq head = 1;                            // first stored sequence number
  Seq next = 1;                            // sequence number the next append gets
  std::uint64_t depth = 0;                 // next - head
  std::uint64_t bytes = 0;                 // stored bytes of all messages in the queue
  std::int64_t oldest_received_at_ms = 0;  // of the head message; 0 when empty
  std::uint64_t appended = 0;              // messages ever appended
  std::uint64_t removed = 0;               // consumed by every cursor, or purged
  std::uint64_t dropped = 0;               // dropped by a quota (drop-oldest)
  std::uint64_t expired = 0;               // dropped by the TTL
  std::uint64_t dead_lettered = 0;         // of the dropped and expired, how many went to a DLQ
  std::vector<CursorStats> cursors;
  QueuePolicy policy;
};

struct StoreStats {
  std::uint64_t queues = 0;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;              // sum of all queues' bytes
  std::uint64_t quota_bytes = 0;        // store-wide quota; 0 = unlimited
  std::uint64_t free_disk_bytes = 0;    // free for unprivileged writers where the store is
  std::uint64_t write_batches = 0;      // RocksDB writes done by the store thread
  std::uint64_t synced_batches = 0;     // of which waited for fsync
  std::uint64_t appended_messages = 0;  // since open
  std::uint64_t rejected_appends = 0;   // append requests refused (quota, disk, size)
  std::uint64_t last_batch_messages = 0;
  std::uint64_t max_batch_messages = 0;
  std::uint64_t total_write_micros = 0;  // time spent in RocksDB writes (incl. fsync)
};

class QueueStore {
 public:
  virtual ~QueueStore() = default;

  // Appends every message of `batch` (all or nothing) and reports their sequence numbers, in
  // order, once durable. Errors: kResourceExhausted (quota under `reject`, disk nearly full),
  // kTooLarge (one message exceeds a quota on its own), kInvalidArgument (bad queue name),
  // kUnsupported (read-only store), kIoError, kUnavailable (store closing).
  virtual void append(std::vector<AppendRequest> batch, Callback<std::vector<Seq>> done) = 0;

  // Reads stored messages in order. Errors: kNotFound (no such queue), kCorruption, kIoError.
  virtual void read(std::string queue, ReadRequest request, Callback<ReadResult> done) = 0;

  // Marks every message up to and including `upto` as consumed by `cursor` (created if
  // missing) and reports the cursor's new position. Committing below the current position is
  // a no-op. Errors: kNotFound (no such queue), kInvalidArgument (`upto` not yet appended).
  virtual void commit(std::string queue, std::string cursor, Seq upto, Callback<Seq> done) = 0;

  // Creates a cursor at the queue's head (the queue too, if missing); reports its position.
  // Idempotent: an existing cursor keeps its position.
  virtual void create_cursor(std::string queue, std::string cursor, Callback<Seq> done) = 0;

  // Removes a cursor; messages only it was holding are removed. Errors: kNotFound.
  virtual void delete_cursor(std::string queue, std::string cursor, Callback<void> done) = 0;

  // Removes every message of the queue (counted as removed); reports how many.
  virtual void purge(std::string queue, Callback<std::uint64_t> done) = 0;

  virtual void queue_stats(std::string queue, Callback<QueueStats> done) = 0;
  virtual void list_queues(Callback<std::vector<QueueStats>> done) = 0;
  virtual void store_stats(Callback<StoreStats> done) = 0;
};

// Runs an asynchronous store operation and waits for its result. `start` receives the
// callback to pass on, e.g.
//   auto seqs = call_sync<std::vector<Seq>>([&](auto cb) { store.append(batch, std::move(cb)); });
// Blocks the calling thread: never call it on the store thread or an io loop.
template <typename T, typename Start>
Result<T> call_sync(Start&& start) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  std::forward<Start>(start)(
      Callback<T>([&promise](Result<T> result) { promise.set_value(std::move(result)); }));
  return future.get();
}

}  // namespace holdfast::core
