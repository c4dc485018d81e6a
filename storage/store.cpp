// Opening the RocksDB store, loading its metadata, and the store thread's rounds.
#include <filesystem>

#include <rocksdb/cache.h>
#include <rocksdb/table.h>

#include "broker/core/address.h"
#include "storage/codec.h"
#include "storage/store_impl.h"

namespace holdfast::storage {

const core::QueuePolicy& policy_for(const StoreOptions& options, std::string_view name) {
  for (const auto& [pattern, policy] : options.policies) {
    if (core::topic_matches(pattern, name)) return policy;
  }
  return options.default_policy;
}

void fail_op(Op& op, const core::Status& status) {
  std::visit([&](auto& o) { o.done(core::error(status)); }, op);
}

namespace {

core::Status from_rocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return {};
  core::Code code = core::Code::kIoError;
  if (s.IsNoSpace()) code = core::Code::kResourceExhausted;
  if (s.IsCorruption()) code = core::Code::kCorruption;
  if (s.IsNotSupported()) code = core::Code::kUnsupported;
  return core::Status(code, std::string(what) + ": " + s.ToString());
}

rocksdb::ColumnFamilyOptions messages_cf_options(const StoreOptions& o,
                                                 const std::shared_ptr<rocksdb::Cache>& cache) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = o.write_buffer_bytes;
  cf.max_write_buffer_number = 2;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks live in the bounded cache, so memory does not grow with the
  // number of SST files (i.e. with queue depth).
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  // Payloads are often encrypted (incompressible); LZ4 costs little and still shrinks the
  // addresses and properties of records that live long enough to be compacted.
  cf.compression = rocksdb::kLZ4Compression;
  return cf;
}

}  // namespace

core::Result<std::unique_ptr<StoreImpl>> StoreImpl::open(StoreOptions options, bool read_only,
                                                         std::string secondary_path) {
  if (options.path.empty()) return core::error(core::Code::kInvalidArgument, "store path is empty");
  if (!options.clock) options.clock = core::now_ms;
  std::unique_ptr<StoreImpl> store(new StoreImpl());
  store->options_ = std::move(options);
  store->read_only_ = read_only;
  if (auto s = store->open_db(read_only, secondary_path); !s.ok()) return core::error(s);
  if (auto s = store->check_format_version(); !s.ok()) return core::error(s);
  if (auto s = store->load_metadata(); !s.ok()) return core::error(s);
  store->thread_ = std::thread([raw = store.get()] { raw->run(); });
  return store;
}

core::Status StoreImpl::open_db(bool read_only, const std::string& secondary_path) {
  std::error_code ec;
  if (!read_only) {
    std::filesystem::create_directories(options_.path, ec);
    if (ec) {
      return {core::Code::kIoError,
              "cannot create store directory " + options_.path + ": " + ec.message()};
    }
  } else if (!std::filesystem::exists(options_.path / std::filesystem::path("CURRENT"), ec)) {
    return {core::Code::kNotFound, "no Holdfast store at " + options_.path};
  }
  auto cache = rocksdb::NewLRUCache(options_.block_cache_bytes);
  rocksdb::DBOptions db;
  db.create_if_missing = !read_only;
  db.create_missing_column_families = !read_only;
  db.max_open_files = read_only ? -1 : 256;
  db.max_background_jobs = 2;
  db.max_log_file_size = options_.info_log_max_bytes;
  db.keep_log_file_num = options_.info_log_keep;
  db.stats_dump_period_sec = 0;
  db.stats_persist_period_sec = 0;
  db.skip_stats_update_on_db_open = true;  // reopen must not read every SST file
  // The metadata family gets few writes; without this its old WAL files would be kept forever.
  db.max_total_wal_size = 4 * options_.write_buffer_bytes;
  // Streaming zstd over the WAL: addresses, ids and properties repeat from record to record;
  // measured by holdfast-bench store to cut bytes written per payload byte from ~1.9 to ~1.3.
  if (options_.wal_compression) db.wal_compression = rocksdb::kZSTD;

  rocksdb::ColumnFamilyOptions meta;
  meta.write_buffer_size = 1 << 20;
  meta.max_write_buffer_number = 2;
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions()},
      {"messages", messages_cf_options(options_, cache)},
      {"meta", meta},
  };
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s;
  if (read_only) {
    rocksdb::Options o(db, rocksdb::ColumnFamilyOptions());
    s = rocksdb::DB::OpenAsSecondary(o, options_.path, secondary_path, families, &handles_, &raw);
  } else {
    s = rocksdb::DB::Open(db, options_.path, families, &handles_, &raw);
  }
  if (!s.ok()) return from_rocks(s, "cannot open store at " + options_.path);
  db_.reset(raw);
  messages_ = handles_[1];
  meta_ = handles_[2];
  return {};
}

core::Status StoreImpl::check_format_version() {
  std::string value;
  auto s = db_->Get(rocksdb::ReadOptions(), meta_, format_version_key(), &value);
  if (s.IsNotFound()) {
    std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
    it->SeekToFirst();
    if (it->Valid()) {
      return {core::Code::kCorruption,
              "store at " + options_.path + " has metadata but no format version"};
    }
    if (read_only_) return {};  // an empty store being created by its owner
    rocksdb::WriteOptions sync;
    sync.sync = true;
    return from_rocks(db_->Put(sync, meta_, format_version_key(), std::to_string(kFormatVersion)),
                      "cannot write format version");
  }
  if (!s.ok()) return from_rocks(s, "cannot read format version");
  unsigned long version = 0;
  try {
    version = std::stoul(value);
  } catch (...) {
    return {core::Code::kCorruption, "store format version '" + value + "' is not a number"};
  }
  if (version > kFormatVersion) {
    return {core::Code::kUnsupported,
            "store at " + options_.path + " has format version " + std::to_string(version) +
                ", newer than this Holdfast supports (" + std::to_string(kFormatVersion) +
                "): run a newer Holdfast, or move the store aside"};
  }
  return {};
}

core::Status StoreImpl::load_metadata() {
  queues_.clear();
  queues_by_id_.clear();
  total_bytes_ = 0;
  next_queue_id_ = 1;
  struct LoadedCursor {
    std::uint32_t queue_id;
    std::string name;
    core::Seq position;
  };
  std::vector<LoadedCursor> cursors;  // cursor keys sort before queue keys
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key(it->key().data(), it->key().size());
    std::string_view value(it->value().data(), it->value().size());
    if (key.size() < 5 || (key[0] != kQueueMetaPrefix && key[0] != kCursorPrefix)) continue;
    auto id = static_cast<std::uint32_t>(read_be(key.data() + 1, 4));
    if (key[0] == kQueueMetaPrefix) {
      auto q = std::make_unique<QueueState>();
      if (!decode_queue_record(value, *q)) {
        return {core::Code::kCorruption, "queue record " + std::to_string(id) + " is malformed"};
      }
      q->id = id;
      q->policy = policy_for(options_, q->name);
      total_bytes_ += q->bytes();
      next_queue_id_ = std::max(next_queue_id_, id + 1);
      queues_by_id_[id] = q.get();
      std::string name = q->name;
      queues_.emplace(std::move(name), std::move(q));
    } else {
      if (value.size() != 8) return {core::Code::kCorruption, "cursor record is malformed"};
      cursors.push_back({id, std::string(key.substr(5)), read_be(value.data(), 8)});
    }
  }
  if (!it->status().ok()) return from_rocks(it->status(), "cannot load queue metadata");
  for (auto& c : cursors) {
    auto q = queues_by_id_.find(c.queue_id);
    if (q == queues_by_id_.end()) {
      return {core::Code::kCorruption, "cursor '" + c.name + "' names a missing queue"};
    }
    q->second->cursors[c.name] = c.position;
  }
  return {};
}

StoreImpl::~StoreImpl() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (db_ && !read_only_) {
    // A clean close flushes the memtables, so the next open has no WAL to replay.
    rocksdb::FlushOptions flush;
    flush.wait = true;
    db_->Flush(flush, {messages_, meta_}).PermitUncheckedError();
    db_->SyncWAL().PermitUncheckedError();
  }
  for (auto* handle : handles_) db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  db_.reset();
}

void StoreImpl::submit(Op op) {
  {
    std::lock_guard lock(mu_);
    if (!stopping_) {
      ops_.push_back(std::move(op));
      if (ops_.size() == 1) cv_.notify_one();
      return;
    }
  }
  fail_op(op, {core::Code::kUnavailable, "the store is closing"});
}

void StoreImpl::run() {
  auto next_retention = std::chrono::steady_clock::now() + options_.retention_interval;
  while (true) {
    std::deque<Op> round;
    bool retention_due = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_retention, [&] { return !ops_.empty() || stopping_; });
      if (ops_.empty() && stopping_) return;
      // Take everything queued, up to the group-commit limits on appended messages.
      std::size_t messages = 0, bytes = 0;
      while (!ops_.empty()) {
        if (auto* append = std::get_if<AppendOp>(&ops_.front())) {
          if (messages > 0 && (messages + append->records.size() > options_.max_batch_messages ||
                               bytes + append->bytes > options_.max_batch_bytes)) {
            break;
          }
          messages += append->records.size();
          bytes += append->bytes;
        }
        round.push_back(std::move(ops_.front()));
        ops_.pop_front();
      }
    }
    if (std::chrono::steady_clock::now() >= next_retention) {
      retention_due = true;
      next_retention = std::chrono::steady_clock::now() + options_.retention_interval;
    }
    run_round(round, retention_due);
  }
}

void StoreImpl::run_round(std::deque<Op>& ops, bool retention_due) {
  if (read_only_) {
    // A secondary sees the owner's writes only after catching up; then reload the metadata.
    core::Status s = from_rocks(db_->TryCatchUpWithPrimary(), "cannot catch up with the store");
    if (s.ok()) s = load_metadata();
    for (auto& op : ops) {
      if (!s.ok()) {
        fail_op(op, s);
      } else if (is_mutation(op)) {
        fail_op(op, {core::Code::kUnsupported, "the store is open read-only"});
      } else {
        serve(op);
      }
    }
    return;
  }
  if (needs_resume_) {
    // After a failed write RocksDB may refuse writes until resumed (e.g. the disk was full).
    needs_resume_ = !db_->Resume().ok();
  }
  if (retention_due) run_retention();
  // In call order: mutations go into the batch, queries are answered at once. A read returns
  // only durable records (it stops at durable_next), so it never waits for this round's fsync
  // and never hands out a record whose write could still fail.
  for (auto& op : ops) {
    if (is_mutation(op)) {
      apply(op);
    } else {
      serve(op);
    }
  }
  if (batch_.Count() > 0 || !completions_.empty()) {
    core::Status s = write_round(round_has_appends_ && options_.sync == SyncMode::kFsync);
    for (auto& complete : completions_) complete(s);
    completions_.clear();
  }
}

core::Status StoreImpl::write_round(bool sync) {
  for (QueueState* q : dirty_) {
    batch_.Put(meta_, queue_meta_key(q->id), encode_queue_record(*q));
    q->dirty = false;
  }
  dirty_.clear();
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  auto started = std::chrono::steady_clock::now();
  core::Status s = batch_.Count() == 0 ? core::Status()
                                       : from_rocks(db_->Write(wo, &batch_), "store write failed");
  stats_.total_write_micros += std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - started)
                                   .count();
  batch_.Clear();
  std::uint64_t messages = round_messages_;
  round_messages_ = 0;
  round_has_appends_ = false;
  if (!s.ok()) {
    pending_.clear();
    // The in-memory state ran ahead of the disk: rebuild it from what RocksDB has.
    needs_resume_ = true;
    if (auto reload = load_metadata(); !reload.ok()) {
      s = core::Status(s.code(),
                       s.message() + "; reloading metadata also failed: " + reload.message());
    }
    return s;
  }
  ++stats_.write_batches;
  if (sync) ++stats_.synced_batches;
  stats_.last_batch_messages = messages;
  stats_.max_batch_messages = std::max(stats_.max_batch_messages, messages);
  for (auto& [id, headers] : pending_) {
    QueueState* q = queues_by_id_.at(id);
    q->durable_next = q->next;
    q->durable_appended_bytes = q->appended_bytes;
  }
  pending_.clear();
  return s;
}

bool StoreImpl::is_mutation(const Op& op) const {
  return std::holds_alternative<AppendOp>(op) || std::holds_alternative<CommitOp>(op) ||
         std::holds_alternative<CreateCursorOp>(op) || std::holds_alternative<DeleteCursorOp>(op) ||
         std::holds_alternative<PurgeOp>(op) || std::holds_alternative<RetentionOp>(op);
}

void StoreImpl::apply(Op& op) {
  std::visit(
      [&](auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, AppendOp>) apply_append(o);
        if constexpr (std::is_same_v<T, CommitOp>) apply_commit(o);
        if constexpr (std::is_same_v<T, CreateCursorOp>) apply_create_cursor(o);
        if constexpr (std::is_same_v<T, DeleteCursorOp>) apply_delete_cursor(o);
        if constexpr (std::is_same_v<T, PurgeOp>) apply_purge(o);
        if constexpr (std::is_same_v<T, RetentionOp>) {
          run_retention();
          completions_.push_back([done = std::move(o.done)](const core::Status& s) mutable {
            if (s.ok())
              done({});
            else
              done(core::error(s));
          });
        }
      },
      op);
}

}  // namespace holdfast::storage
