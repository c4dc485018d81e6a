#pragma once
// Shared helpers for the storage tests: a temp dir that removes itself, a fake clock, and
// blocking wrappers around the asynchronous store API.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "storage/rocks_queue_store.h"

namespace holdfast::storage::testing {

class TempDir {
 public:
  TempDir() {
    std::string dir = (std::filesystem::temp_directory_path() / "holdfast-test-XXXXXX").string();
    if (mkdtemp(dir.data()) != nullptr) path_ = dir;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Empty if the directory could not be made.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline core::Message make_message(std::string payload, std::string address = "a/b") {
  core::Message m;
  m.address = std::move(address);
  m.payload = std::move(payload);
  return m;
}

// A store in a fresh temp dir with a fake clock; reopen() closes and opens it again.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options_.path = dir_.path() + "/store";
    options_.sync = SyncMode::kOs;
    options_.min_free_disk_bytes = 0;
    options_.retention_interval = std::chrono::hours(1);  // tests run retention explicitly
    options_.clock = [this] { return clock_.load(); };
    open();
  }

  void open() {
    auto store = RocksQueueStore::open(options_);
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(*store);
  }
  void reopen() {
    store_.reset();
    open();
  }

  core::Result<std::vector<core::Seq>> append(std::vector<core::AppendRequest> batch) {
    return core::call_sync<std::vector<core::Seq>>(
        [&](auto done) { store_->append(std::move(batch), std::move(done)); });
  }
  core::Result<core::Seq> append_one(const std::string& queue, std::string payload) {
    std::vector<core::AppendRequest> batch(1);
    batch[0].queue = queue;
    batch[0].message = make_message(std::move(payload));
    auto seqs = append(std::move(batch));
    if (!seqs) return core::error(seqs.error());
    return seqs->front();
  }
  core::Result<core::ReadResult> read(const std::string& queue, core::ReadRequest request = {}) {
    return core::call_sync<core::ReadResult>(
        [&](auto done) { store_->read(queue, request, std::move(done)); });
  }
  core::Result<core::Seq> commit(const std::string& queue, const std::string& cursor,
                                 core::Seq upto) {
    return core::call_sync<core::Seq>(
        [&](auto done) { store_->commit(queue, cursor, upto, std::move(done)); });
  }
  core::Result<core::Seq> create_cursor(const std::string& queue, const std::string& cursor) {
    return core::call_sync<core::Seq>(
        [&](auto done) { store_->create_cursor(queue, cursor, std::move(done)); });
  }
  core::Result<void> delete_cursor(const std::string& queue, const std::string& cursor) {
    return core::call_sync<void>(
        [&](auto done) { store_->delete_cursor(queue, cursor, std::move(done)); });
  }
  core::Result<std::uint64_t> purge(const std::string& queue) {
    return core::call_sync<std::uint64_t>(
        [&](auto done) { store_->purge(queue, std::move(done)); });
  }
  core::Result<core::QueueStats> stats(const std::string& queue) {
    return core::call_sync<core::QueueStats>(
        [&](auto done) { store_->queue_stats(queue, std::move(done)); });
  }
  core::Result<std::vector<core::QueueStats>> list() {
    return core::call_sync<std::vector<core::QueueStats>>(
        [&](auto done) { store_->list_queues(std::move(done)); });
  }
  core::Result<core::StoreStats> store_stats() {
    return core::call_sync<core::StoreStats>(
        [&](auto done) { store_->store_stats(std::move(done)); });
  }
  void run_retention() {
    auto r = core::call_sync<void>([&](auto done) { store_->run_retention(std::move(done)); });
    ASSERT_TRUE(r) << r.error().to_string();
  }
  // Payloads of every message of `queue`, read from the head.
  std::vector<std::string> payloads(const std::string& queue) {
    std::vector<std::string> out;
    core::ReadRequest request;
    request.max_messages = 1000000;
    request.max_bytes = 1 << 30;
    auto r = read(queue, request);
    EXPECT_TRUE(r) << r.error().to_string();
    if (r) {
      for (auto& m : r->messages) out.push_back(m.message.payload);
    }
    return out;
  }

  TempDir dir_;
  StoreOptions options_;
  std::atomic<std::int64_t> clock_{1'700'000'000'000};
  std::unique_ptr<RocksQueueStore> store_;
};

}  // namespace holdfast::storage::testing
