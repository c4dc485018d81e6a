// Retention run by the store thread: quotas (reject or drop-oldest), TTL expiry, dead-letter
// queues, the free-disk guard, and the batched physical deletion of consumed records.
#include <sys/statvfs.h>

#include <algorithm>
#include <chrono>
#include <unordered_map>

#include <rocksdb/iterator.h>

#include "storage/codec.h"
#include "storage/store_impl.h"

namespace holdfast::storage {
namespace {

constexpr std::uint64_t kMaxExpiredPerPass = 10000;  // per queue, keeps rounds short
constexpr std::uint64_t kStoreDropChunk = 64;

std::string mib(std::uint64_t bytes) {
  return std::to_string(bytes >> 20) + " MiB";
}

}  // namespace

core::Status StoreImpl::check_disk_space() {
  if (options_.min_free_disk_bytes == 0) return {};
  auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::steady_clock::now().time_since_epoch())
                 .count();
  if (disk_checked_at_ms_ != 0 && now - disk_checked_at_ms_ < 1000) return disk_status_;
  disk_checked_at_ms_ = now;
  struct statvfs fs {};
  if (statvfs(options_.path.c_str(), &fs) != 0) {
    disk_status_ = {};  // cannot tell; RocksDB will report a real failure
    return disk_status_;
  }
  std::uint64_t free = std::uint64_t{fs.f_bavail} * fs.f_frsize;
  if (free < options_.min_free_disk_bytes) {
    disk_status_ = {core::Code::kResourceExhausted,
                    "disk nearly full: " + mib(free) + " free under " + options_.path +
                        ", below min_free_disk_bytes (" + mib(options_.min_free_disk_bytes) +
                        "); free some space or lower the setting"};
  } else {
    disk_status_ = {};
  }
  return disk_status_;
}

core::Status StoreImpl::make_room(const AppendOp& op) {
  std::unordered_map<std::string_view, std::uint64_t> added;
  for (std::size_t i = 0; i < op.batch.size(); ++i)
    added[op.batch[i].queue] += op.records[i].size();

  struct Drop {
    QueueState* queue;
    std::uint64_t bytes;
  };
  std::vector<Drop> drops;
  std::uint64_t store_freed = 0;  // by queue drops that are not moved to a dead-letter queue
  for (const auto& [name, bytes] : added) {
    QueueState* q = find_queue(name);
    const core::QueuePolicy& policy = q ? q->policy : policy_for(options_, name);
    std::uint64_t current = q ? q->bytes() : 0;
    if (policy.max_bytes == 0 || current + bytes <= policy.max_bytes) continue;
    std::string queue = "queue '" + std::string(name) + "'";
    if (bytes > policy.max_bytes) {
      return {core::Code::kTooLarge, std::to_string(bytes) + " bytes exceed the quota of " + queue +
                                         " (" + std::to_string(policy.max_bytes) +
                                         " bytes) on their own"};
    }
    if (policy.overflow == core::OverflowPolicy::kReject) {
      return {core::Code::kResourceExhausted,
              queue + " is full: " + std::to_string(current) + " of " +
                  std::to_string(policy.max_bytes) +
                  " bytes used (overflow policy reject); its consumers must drain it"};
    }
    std::uint64_t needed = current + bytes - policy.max_bytes;
    if (q->droppable_bytes() < needed) {
      return {core::Code::kResourceExhausted,
              queue + " is full and its oldest messages are still being written; retry"};
    }
    drops.push_back({q, needed});
    if (policy.dead_letter_queue.empty()) store_freed += needed;
  }

  std::uint64_t quota = options_.quota_bytes;
  if (quota > 0 && total_bytes_ + op.bytes > quota + store_freed) {
    if (op.bytes > quota) {
      return {core::Code::kTooLarge, std::to_string(op.bytes) + " bytes exceed the store quota (" +
                                         std::to_string(quota) + " bytes) on their own"};
    }
    if (options_.quota_policy == core::OverflowPolicy::kReject) {
      return {core::Code::kResourceExhausted,
              "the store is full: " + std::to_string(total_bytes_) + " of " +
                  std::to_string(quota) +
                  " bytes used (store quota, overflow policy reject); consumers must drain "
                  "queues, or raise the quota"};
    }
    std::uint64_t droppable = 0;
    for (const auto& [name, q] : queues_) droppable += q->droppable_bytes();
    if (total_bytes_ + op.bytes - std::min(droppable, total_bytes_) > quota) {
      return {core::Code::kResourceExhausted,
              "the store is full and its oldest messages are still being written; retry"};
    }
  }

  for (const Drop& d : drops) {
    std::uint64_t freed = 0;
    bool to_dlq = !d.queue->policy.dead_letter_queue.empty();
    if (auto s = drop_from_head(*d.queue, d.bytes, UINT64_MAX, 0, "quota", to_dlq, &freed);
        !s.ok()) {
      return s;
    }
  }
  // Store-wide drop-oldest: drop from whichever queue holds the oldest message.
  while (quota > 0 && total_bytes_ + op.bytes > quota) {
    QueueState* oldest = nullptr;
    for (const auto& [name, q] : queues_) {
      if (q->droppable_bytes() > 0 &&
          (oldest == nullptr || q->head_received_at_ms < oldest->head_received_at_ms)) {
        oldest = q.get();
      }
    }
    if (oldest == nullptr) {
      return {core::Code::kResourceExhausted, "the store is full and nothing can be dropped"};
    }
    std::uint64_t freed = 0;
    if (auto s = drop_from_head(*oldest, total_bytes_ + op.bytes - quota, kStoreDropChunk, 0,
                                "quota", false, &freed);
        !s.ok()) {
      return s;
    }
  }
  return {};
}

core::Status StoreImpl::drop_from_head(QueueState& q, std::uint64_t bytes_needed,
                                       std::uint64_t max_count, std::int64_t expire_before_ms,
                                       const char* reason, bool allow_dlq, std::uint64_t* freed) {
  *freed = 0;
  if (q.head >= q.durable_next) return {};
  std::string lower = message_key(q.id, q.head);
  std::string upper = message_key(q.id, q.durable_next);
  rocksdb::Slice lower_slice(lower), upper_slice(upper);
  rocksdb::ReadOptions ro;
  ro.iterate_lower_bound = &lower_slice;
  ro.iterate_upper_bound = &upper_slice;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, messages_));
  allow_dlq =
      allow_dlq && !q.policy.dead_letter_queue.empty() && q.policy.dead_letter_queue != q.name;
  core::Seq seq = q.head;
  for (it->Seek(lower_slice); it->Valid(); it->Next()) {
    if (seq - q.head >= max_count || (bytes_needed > 0 && *freed >= bytes_needed)) break;
    std::string_view record(it->value().data(), it->value().size());
    if (expire_before_ms != 0) {
      auto header = decode_record_header(record);
      if (!header) return header.error();
      if (header->received_at_ms >= expire_before_ms) break;
    }
    if (allow_dlq) dead_letter(q, seq, record, reason);
    *freed += record.size();
    ++seq;
  }
  if (!it->status().ok()) {
    return {core::Code::kIoError, "reading queue '" + q.name + "': " + it->status().ToString()};
  }
  std::uint64_t count = seq - q.head;
  if (auto s = advance_head(q, seq); !s.ok()) return s;
  (expire_before_ms != 0 ? q.expired : q.dropped) += count;
  return {};
}

void StoreImpl::dead_letter(QueueState& from, core::Seq seq, std::string_view record,
                            const char* reason) {
  auto message = decode_record(record, seq);
  if (!message) return;  // counted as dropped only; a corrupt record cannot be replayed anyway
  core::DeadLetterInfo info{reason, from.name, seq, now()};
  std::string moved = encode_record(message->message, info);
  QueueState& dlq = get_or_create_queue(from.policy.dead_letter_queue);
  const core::QueuePolicy& policy = dlq.policy;
  if (policy.max_bytes > 0 && dlq.bytes() + moved.size() > policy.max_bytes) {
    std::uint64_t needed = dlq.bytes() + moved.size() - policy.max_bytes;
    std::uint64_t freed = 0;
    if (policy.overflow == core::OverflowPolicy::kReject || dlq.droppable_bytes() < needed ||
        !drop_from_head(dlq, needed, UINT64_MAX, 0, "quota", false, &freed).ok()) {
      return;  // the dead-letter queue is full: the message is only counted as dropped
    }
  }
  append_record(dlq, std::move(moved));
  ++from.dead_lettered;
}

void StoreImpl::run_retention() {
  std::int64_t now_ms = now();
  std::vector<QueueState*> expiring;  // dead-lettering may add queues: do not iterate queues_
  for (const auto& [name, q] : queues_) {
    if (q->policy.ttl_ms > 0 && q->head < q->durable_next &&
        q->head_received_at_ms < now_ms - q->policy.ttl_ms) {
      expiring.push_back(q.get());
    }
  }
  for (QueueState* q : expiring) {
    std::uint64_t freed = 0;
    drop_from_head(*q, 0, kMaxExpiredPerPass, now_ms - q->policy.ttl_ms, "expired", true, &freed)
        .ignore();  // a read error leaves the messages for the next pass
  }
  for (const auto& [name, q] : queues_) delete_consumed(*q, true);
}

}  // namespace holdfast::storage
