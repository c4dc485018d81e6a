#include "storage/rocks_queue_store.h"

#include <stdlib.h>

#include <filesystem>

#include "storage/record.h"
#include "storage/store_impl.h"

namespace holdfast::storage {

core::Result<std::unique_ptr<RocksQueueStore>> RocksQueueStore::open(StoreOptions options) {
  if (!options.clock) options.clock = core::now_ms;
  std::unique_ptr<RocksQueueStore> store(new RocksQueueStore());
  store->clock_ = options.clock;
  auto impl = StoreImpl::open(std::move(options), false, "");
  if (!impl) return core::error(impl.error());
  store->impl_ = std::move(*impl);
  return store;
}

core::Result<std::unique_ptr<RocksQueueStore>> RocksQueueStore::open_read_only(
    const std::string& path) {
  std::string scratch = (std::filesystem::temp_directory_path() / "holdfast-ro-XXXXXX").string();
  if (mkdtemp(scratch.data()) == nullptr) {
    return core::error(core::Code::kIoError, "cannot create a scratch directory under " +
                                                 std::filesystem::temp_directory_path().string());
  }
  StoreOptions options;
  options.path = path;
  options.clock = core::now_ms;
  std::unique_ptr<RocksQueueStore> store(new RocksQueueStore());
  store->clock_ = options.clock;
  store->scratch_dir_ = scratch;
  auto impl = StoreImpl::open(std::move(options), true, scratch);
  if (!impl) {
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
    return core::error(impl.error());
  }
  store->impl_ = std::move(*impl);
  return store;
}

RocksQueueStore::~RocksQueueStore() {
  impl_.reset();
  if (!scratch_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(scratch_dir_, ec);
  }
}

void RocksQueueStore::append(std::vector<core::AppendRequest> batch,
                             core::Callback<std::vector<core::Seq>> done) {
  // Encoding happens here, on the caller's thread, to keep the single store thread free.
  AppendOp op;
  op.records.reserve(batch.size());
  std::int64_t now = 0;
  for (auto& request : batch) {
    if (request.message.received_at_ms == 0) {
      if (now == 0) now = clock_();
      request.message.received_at_ms = now;
    }
    op.records.push_back(encode_record(request.message, request.dead_letter));
    op.bytes += op.records.back().size();
  }
  op.batch = std::move(batch);
  op.done = std::move(done);
  impl_->submit(std::move(op));
}

void RocksQueueStore::read(std::string queue, core::ReadRequest request,
                           core::Callback<core::ReadResult> done) {
  impl_->submit(ReadOp{std::move(queue), std::move(request), std::move(done)});
}

void RocksQueueStore::commit(std::string queue, std::string cursor, core::Seq upto,
                             core::Callback<core::Seq> done) {
  impl_->submit(CommitOp{std::move(queue), std::move(cursor), upto, std::move(done)});
}

void RocksQueueStore::create_cursor(std::string queue, std::string cursor,
                                    core::Callback<core::Seq> done) {
  impl_->submit(CreateCursorOp{std::move(queue), std::move(cursor), std::move(done)});
}

void RocksQueueStore::delete_cursor(std::string queue, std::string cursor,
                                    core::Callback<void> done) {
  impl_->submit(DeleteCursorOp{std::move(queue), std::move(cursor), std::move(done)});
}

void RocksQueueStore::purge(std::string queue, core::Callback<std::uint64_t> done) {
  impl_->submit(PurgeOp{std::move(queue), std::move(done)});
}

void RocksQueueStore::queue_stats(std::string queue, core::Callback<core::QueueStats> done) {
  impl_->submit(QueueStatsOp{std::move(queue), std::move(done)});
}

void RocksQueueStore::list_queues(core::Callback<std::vector<core::QueueStats>> done) {
  impl_->submit(ListQueuesOp{std::move(done)});
}

void RocksQueueStore::store_stats(core::Callback<core::StoreStats> done) {
  impl_->submit(StoreStatsOp{std::move(done)});
}

void RocksQueueStore::run_retention(core::Callback<void> done) {
  impl_->submit(RetentionOp{std::move(done)});
}

}  // namespace holdfast::storage
