// Mutations run by the store thread: appends, cursor commits, cursor lifecycle, purge.
// Each one changes the in-memory state, adds to the round's WriteBatch, and queues its
// callback to run once the batch is written.
#include <rocksdb/slice.h>

#include "storage/codec.h"
#include "storage/store_impl.h"

namespace holdfast::storage {
namespace {

constexpr std::size_t kMaxNameBytes = 1024;
// Consumed records are deleted from RocksDB in ranges of at least this many (or at the next
// retention pass), so that a fast consumer does not leave one range tombstone per commit.
constexpr core::Seq kDeleteChunk = 256;

core::Status check_name(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameBytes || name.find('\0') != std::string_view::npos) {
    return {core::Code::kInvalidArgument,
            std::string(what) + " name must be 1 to 1024 bytes without NUL"};
  }
  return {};
}

core::Status no_queue(std::string_view name) {
  return {core::Code::kNotFound, "no queue '" + std::string(name) + "'"};
}

template <typename T>
auto complete_with(core::Callback<T> done, T value) {
  return [done = std::move(done), value = std::move(value)](const core::Status& s) mutable {
    if (s.ok()) {
      done(std::move(value));
    } else {
      done(core::error(s));
    }
  };
}

}  // namespace

void StoreImpl::mark_dirty(QueueState& q) {
  if (!q.dirty) {
    q.dirty = true;
    dirty_.push_back(&q);
  }
}

QueueState* StoreImpl::find_queue(std::string_view name) {
  auto it = queues_.find(std::string(name));
  return it == queues_.end() ? nullptr : it->second.get();
}

QueueState& StoreImpl::get_or_create_queue(const std::string& name) {
  if (QueueState* q = find_queue(name)) return *q;
  auto q = std::make_unique<QueueState>();
  q->id = next_queue_id_++;
  q->name = name;
  q->policy = policy_for(options_, name);
  QueueState& ref = *q;
  queues_by_id_[ref.id] = &ref;
  queues_.emplace(name, std::move(q));
  mark_dirty(ref);
  return ref;
}

core::Seq StoreImpl::append_record(QueueState& q, std::string record) {
  set_record_cum(record, q.appended_bytes);
  core::Seq seq = q.next++;
  RecordHeader header{q.appended_bytes,
                      static_cast<std::int64_t>(read_fixed64_le(record.data() + 9))};
  if (q.head == seq) q.head_received_at_ms = header.received_at_ms;
  pending_[q.id].push_back(header);
  q.appended_bytes += record.size();
  total_bytes_ += record.size();
  ++q.appended;
  ++round_messages_;
  batch_.Put(messages_, message_key(q.id, seq), record);
  mark_dirty(q);
  return seq;
}

core::Result<RecordHeader> StoreImpl::header_at(const QueueState& q, core::Seq seq) {
  if (seq == q.next) return RecordHeader{q.appended_bytes, 0};
  if (seq >= q.durable_next) return pending_.at(q.id).at(seq - q.durable_next);
  rocksdb::PinnableSlice value;
  auto s = db_->Get(rocksdb::ReadOptions(), messages_, message_key(q.id, seq), &value);
  if (!s.ok()) {
    return core::error(core::Code::kCorruption, "queue '" + q.name + "': record " +
                                                    std::to_string(seq) + ": " + s.ToString());
  }
  return decode_record_header(std::string_view(value.data(), value.size()));
}

core::Status StoreImpl::advance_head(QueueState& q, core::Seq new_head) {
  if (new_head <= q.head) return {};
  auto header = header_at(q, new_head);
  if (!header) return header.error();
  total_bytes_ -= header->cum_before - q.head_cum;
  q.head = new_head;
  q.head_cum = header->cum_before;
  q.head_received_at_ms = header->received_at_ms;
  mark_dirty(q);
  delete_consumed(q, false);
  return {};
}

void StoreImpl::delete_consumed(QueueState& q, bool force) {
  if (q.head <= q.physical_head || (!force && q.head - q.physical_head < kDeleteChunk)) return;
  batch_.DeleteRange(messages_, message_key(q.id, q.physical_head), message_key(q.id, q.head));
  q.physical_head = q.head;
  mark_dirty(q);
}

void StoreImpl::release_consumed(QueueState& q) {
  core::Seq lowest = q.min_cursor();
  if (lowest <= q.head) return;
  core::Seq old_head = q.head;
  if (auto s = advance_head(q, lowest); s.ok()) q.removed += lowest - old_head;
}

void StoreImpl::apply_append(AppendOp& op) {
  core::Status s;
  for (const auto& request : op.batch) {
    if (s = check_name("queue", request.queue); !s.ok()) break;
  }
  if (s.ok()) s = check_disk_space();
  if (s.ok()) s = make_room(op);
  if (!s.ok()) {
    ++stats_.rejected_appends;
    op.done(core::error(s));
    return;
  }
  std::vector<core::Seq> seqs;
  seqs.reserve(op.batch.size());
  for (std::size_t i = 0; i < op.batch.size(); ++i) {
    seqs.push_back(append_record(get_or_create_queue(op.batch[i].queue), std::move(op.records[i])));
  }
  stats_.appended_messages += seqs.size();
  round_has_appends_ = true;
  completions_.push_back(complete_with(std::move(op.done), std::move(seqs)));
}

void StoreImpl::apply_commit(CommitOp& op) {
  core::Status s = check_name("cursor", op.cursor);
  QueueState* q = s.ok() ? find_queue(op.queue) : nullptr;
  if (s.ok() && q == nullptr) s = no_queue(op.queue);
  if (s.ok() && op.upto >= q->next) {
    s = {core::Code::kInvalidArgument, "cannot commit up to " + std::to_string(op.upto) +
                                           ": queue '" + op.queue + "' ends at " +
                                           std::to_string(q->next - 1)};
  }
  if (!s.ok()) {
    op.done(core::error(s));
    return;
  }
  auto it = q->cursors.find(op.cursor);
  core::Seq current = it == q->cursors.end() ? q->head : q->position(it->second);
  core::Seq position = std::max(current, op.upto + 1);
  if (it == q->cursors.end() || it->second != position) {
    q->cursors[op.cursor] = position;
    std::string value;
    put_fixed64_be(value, position);
    batch_.Put(meta_, cursor_key(q->id, op.cursor), value);
    release_consumed(*q);
  }
  completions_.push_back(complete_with(std::move(op.done), position));
}

void StoreImpl::apply_create_cursor(CreateCursorOp& op) {
  core::Status s = check_name("queue", op.queue);
  if (s.ok()) s = check_name("cursor", op.cursor);
  if (!s.ok()) {
    op.done(core::error(s));
    return;
  }
  QueueState& q = get_or_create_queue(op.queue);
  auto it = q.cursors.find(op.cursor);
  if (it == q.cursors.end()) {
    it = q.cursors.emplace(op.cursor, q.head).first;
    std::string value;
    put_fixed64_be(value, q.head);
    batch_.Put(meta_, cursor_key(q.id, op.cursor), value);
  }
  completions_.push_back(complete_with(std::move(op.done), q.position(it->second)));
}

void StoreImpl::apply_delete_cursor(DeleteCursorOp& op) {
  QueueState* q = find_queue(op.queue);
  if (q == nullptr) {
    op.done(core::error(no_queue(op.queue)));
    return;
  }
  if (q->cursors.erase(op.cursor) == 0) {
    op.done(core::error(core::Code::kNotFound,
                        "queue '" + op.queue + "' has no cursor '" + op.cursor + "'"));
    return;
  }
  batch_.Delete(meta_, cursor_key(q->id, op.cursor));
  release_consumed(*q);
  completions_.push_back([done = std::move(op.done)](const core::Status& s) mutable {
    if (s.ok()) {
      done({});
    } else {
      done(core::error(s));
    }
  });
}

void StoreImpl::apply_purge(PurgeOp& op) {
  QueueState* q = find_queue(op.queue);
  if (q == nullptr) {
    op.done(core::error(no_queue(op.queue)));
    return;
  }
  std::uint64_t count = q->depth();
  if (auto s = advance_head(*q, q->next); !s.ok()) {
    op.done(core::error(s));
    return;
  }
  q->removed += count;
  delete_consumed(*q, true);
  completions_.push_back(complete_with(std::move(op.done), count));
}

}  // namespace holdfast::storage
