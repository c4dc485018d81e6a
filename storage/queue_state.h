#pragma once
// In-memory state of one queue, owned by the store thread, and its persistent form (the queue
// record in the metadata column family). Memory per queue is constant: it does not grow with
// the queue's depth.

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "broker/core/queue_store.h"

namespace holdfast::storage {

struct QueueState {
  std::uint32_t id = 0;
  std::string name;
  core::QueuePolicy policy;  // from the options; not persisted, so config changes apply

  // Stored messages are exactly [head, next). Records in [physical_head, head) are consumed or
  // dropped but not yet deleted from RocksDB (deletes are batched into one DeleteRange).
  core::Seq next = 1;
  core::Seq head = 1;
  core::Seq physical_head = 1;
  std::uint64_t appended_bytes = 0;      // cumulative record bytes ever appended
  std::uint64_t head_cum = 0;            // cumulative bytes before the head record
  std::int64_t head_received_at_ms = 0;  // of the head record; 0 when empty

  std::uint64_t appended = 0;
  std::uint64_t removed = 0;
  std::uint64_t dropped = 0;
  std::uint64_t expired = 0;
  std::uint64_t dead_lettered = 0;

  std::map<std::string, core::Seq, std::less<>> cursors;

  // Not persisted: what is already in RocksDB (the rest was appended in the current round).
  core::Seq durable_next = 1;
  std::uint64_t durable_appended_bytes = 0;
  bool dirty = false;  // the queue record must be rewritten in this round

  std::uint64_t bytes() const { return appended_bytes - head_cum; }
  std::uint64_t depth() const { return next - head; }
  // Bytes of records that are durable and so may be dropped in this round.
  std::uint64_t droppable_bytes() const { return durable_appended_bytes - head_cum; }
  // A cursor's effective position: drops may have moved the head past it.
  core::Seq position(core::Seq cursor) const { return cursor < head ? head : cursor; }
  // The lowest effective cursor position, or 0 when the queue has no cursor.
  core::Seq min_cursor() const;

  core::QueueStats stats() const;
};

std::string encode_queue_record(const QueueState& q);
// Fills the persistent fields of `q`; false if the record is malformed.
bool decode_queue_record(std::string_view record, QueueState& q);

}  // namespace holdfast::storage
