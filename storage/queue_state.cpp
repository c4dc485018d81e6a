#include "storage/queue_state.h"

#include "storage/codec.h"

namespace holdfast::storage {
namespace {
constexpr std::uint8_t kQueueRecordVersion = 1;
}

core::Seq QueueState::min_cursor() const {
  core::Seq lowest = 0;
  for (const auto& [name, seq] : cursors) {
    core::Seq p = position(seq);
    if (lowest == 0 || p < lowest) lowest = p;
  }
  return lowest;
}

core::QueueStats QueueState::stats() const {
  core::QueueStats s;
  s.name = name;
  s.head = head;
  s.next = next;
  s.depth = depth();
  s.bytes = bytes();
  s.oldest_received_at_ms = head < next ? head_received_at_ms : 0;
  s.appended = appended;
  s.removed = removed;
  s.dropped = dropped;
  s.expired = expired;
  s.dead_lettered = dead_lettered;
  for (const auto& [cursor, seq] : cursors) s.cursors.push_back({cursor, position(seq)});
  s.policy = policy;
  return s;
}

std::string encode_queue_record(const QueueState& q) {
  std::string out;
  out.push_back(static_cast<char>(kQueueRecordVersion));
  put_bytes(out, q.name);
  for (std::uint64_t v : {q.next, q.head, q.physical_head, q.appended_bytes, q.head_cum,
                          static_cast<std::uint64_t>(q.head_received_at_ms), q.appended, q.removed,
                          q.dropped, q.expired, q.dead_lettered}) {
    put_varint(out, v);
  }
  return out;
}

bool decode_queue_record(std::string_view record, QueueState& q) {
  Reader r(record);
  std::uint8_t version = 0;
  if (!r.get_u8(version) || version != kQueueRecordVersion || !r.get_string(q.name)) return false;
  std::uint64_t received_at = 0;
  for (std::uint64_t* v :
       {&q.next, &q.head, &q.physical_head, &q.appended_bytes, &q.head_cum, &received_at,
        &q.appended, &q.removed, &q.dropped, &q.expired, &q.dead_lettered}) {
    if (!r.get_varint(*v)) return false;
  }
  q.head_received_at_ms = static_cast<std::int64_t>(received_at);
  if (!r.empty() || q.head > q.next || q.physical_head > q.head || q.head_cum > q.appended_bytes) {
    return false;
  }
  q.durable_next = q.next;
  q.durable_appended_bytes = q.appended_bytes;
  return true;
}

}  // namespace holdfast::storage
