// Queries served by the store thread after each round's write: reads and statistics.
#include <rocksdb/iterator.h>
#include <sys/statvfs.h>

#include "storage/codec.h"
#include "storage/store_impl.h"

namespace holdfast::storage {

void StoreImpl::serve(Op& op) {
  std::visit(
      [&](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, ReadOp>) {
          serve_read(o);
        } else if constexpr (std::is_same_v<T, QueueStatsOp>) {
          QueueState* q = find_queue(o.queue);
          if (q == nullptr) {
            o.done(core::error(core::Code::kNotFound, "no queue '" + o.queue + "'"));
          } else {
            o.done(q->stats());
          }
        } else if constexpr (std::is_same_v<T, ListQueuesOp>) {
          std::vector<core::QueueStats> all;
          all.reserve(queues_.size());
          for (const auto& [name, q] : queues_) all.push_back(q->stats());
          std::sort(all.begin(), all.end(),
                    [](const auto& a, const auto& b) { return a.name < b.name; });
          o.done(std::move(all));
        } else if constexpr (std::is_same_v<T, StoreStatsOp>) {
          core::StoreStats s = stats_;
          s.queues = queues_.size();
          s.bytes = total_bytes_;
          s.quota_bytes = options_.quota_bytes;
          struct statvfs fs {};
          if (statvfs(options_.path.c_str(), &fs) == 0) {
            s.free_disk_bytes = std::uint64_t{fs.f_bavail} * fs.f_frsize;
          }
          for (const auto& [name, q] : queues_) s.messages += q->depth();
          o.done(s);
        }
      },
      op);
}

void StoreImpl::serve_read(ReadOp& op) {
  QueueState* q = find_queue(op.queue);
  if (q == nullptr) {
    op.done(core::error(core::Code::kNotFound, "no queue '" + op.queue + "'"));
    return;
  }
  const core::ReadRequest& req = op.request;
  core::Seq start = req.from;
  if (start == 0) {
    auto cursor = q->cursors.find(req.cursor);
    start = cursor == q->cursors.end() ? q->head : cursor->second;
  }
  start = q->position(start);
  core::ReadResult result;
  result.next = start;
  // Only what is durable: records appended in the current round are not written yet.
  const core::Seq end = q->durable_next;
  if (start >= end || req.max_messages == 0) {
    op.done(std::move(result));
    return;
  }
  std::string lower = message_key(q->id, start);
  std::string upper = message_key(q->id, end);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;  // never step over consumed records or tombstones
  ro.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
  std::size_t bytes = 0;
  core::Seq expected = start;
  bool limited = false;  // stopped by max_messages or max_bytes rather than by running out
  for (it->Seek(lower_slice); it->Valid(); it->Next()) {
    std::size_t size = it->value().size();
    if (result.messages.size() >= req.max_messages ||
        (!result.messages.empty() && bytes + size > req.max_bytes)) {
      limited = true;
      break;
    }
    if (it->key().size() != 12 || read_be(it->key().data() + 4, 8) != expected) break;
    auto message = decode_record(std::string_view(it->value().data(), size), expected);
    if (!message) {
      op.done(core::error(core::Code::kCorruption,
                          "queue '" + q->name + "': " + message.error().message()));
      return;
    }
    result.messages.push_back(std::move(*message));
    bytes += size;
    ++expected;
  }
  if (!it->status().ok()) {
    op.done(core::error(core::Code::kIoError,
                        "reading queue '" + q->name + "': " + it->status().ToString()));
    return;
  }
  if (!limited && expected < end && result.messages.size() < req.max_messages) {
    op.done(core::error(core::Code::kCorruption,
                        "queue '" + q->name + "': record " + std::to_string(expected) +
                            " is missing (queue spans " + std::to_string(q->head) + ".." +
                            std::to_string(q->next - 1) + ")"));
    return;
  }
  result.next = expected;
  op.done(std::move(result));
}

}  // namespace holdfast::storage
