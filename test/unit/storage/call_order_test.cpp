// Call order within one store round: one thread's operations run in the order they were
// called even when several land in one round (group commit), and reads return only durable
// records (QueueStore contract, "Visibility").

#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "storage/rocks_queue_store.h"
#include "test/unit/storage/store_fixture.h"

namespace holdfast::storage {
namespace {

using core::Result;
using core::Seq;
using testing::TempDir;

// The contract runs one thread's operations in call order, also when several of them land in
// one store round. To put operations in one round deterministically, the store thread is held
// inside the callback of an earlier operation while they are issued (callbacks must not block
// in production; here it only delays the store thread).
class StorageOrder : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "mkdtemp failed";
    StoreOptions options;
    options.path = dir_.path() + "/store";
    options.sync = SyncMode::kOs;
    options.min_free_disk_bytes = 0;
    auto opened = RocksQueueStore::open(options);
    ASSERT_TRUE(opened.has_value()) << opened.error().to_string();
    store_ = std::move(*opened);
  }

  // Blocks the store thread until release_store_thread().
  void hold_store_thread() {
    std::promise<void> holding;
    store_->store_stats(
        [&holding, released = release_.get_future().share()](Result<core::StoreStats>) {
          holding.set_value();
          released.wait();
        });
    holding.get_future().wait();
  }
  void release_store_thread() { release_.set_value(); }

  static std::vector<core::AppendRequest> batch_of(std::size_t n) {
    std::vector<core::AppendRequest> batch(n);
    for (auto& request : batch) {
      request.queue = "q";
      request.message.payload = "x";
    }
    return batch;
  }

  template <typename T>
  static core::Callback<T> into(std::promise<Result<T>>& promise) {
    return [&promise](Result<T> r) { promise.set_value(std::move(r)); };
  }

  TempDir dir_;
  std::unique_ptr<RocksQueueStore> store_;
  std::promise<void> release_;
};

TEST_F(StorageOrder, QueriesIssuedBeforeMutationsDoNotSeeThem) {
  auto appended = core::call_sync<std::vector<Seq>>(
      [&](auto done) { store_->append(batch_of(3), std::move(done)); });
  ASSERT_TRUE(appended.has_value()) << appended.error().to_string();

  hold_store_thread();
  std::promise<Result<core::ReadResult>> read;
  std::promise<Result<core::QueueStats>> stats;
  std::promise<Result<std::uint64_t>> purged;
  std::promise<Result<std::vector<Seq>>> appended_after;
  store_->read("q", {}, into(read));
  store_->queue_stats("q", into(stats));
  store_->purge("q", into(purged));
  store_->append(batch_of(1), into(appended_after));
  release_store_thread();

  auto r = read.get_future().get();
  auto s = stats.get_future().get();
  auto p = purged.get_future().get();
  auto a = appended_after.get_future().get();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  ASSERT_TRUE(p.has_value()) << p.error().to_string();
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  EXPECT_EQ(r->messages.size(), 3u) << "a read issued before a purge saw the purge";
  EXPECT_EQ(s->depth, 3u) << "stats issued before a purge and an append saw them";
  EXPECT_EQ(s->appended, 3u) << "stats issued before an append saw it";
  EXPECT_EQ(*p, 3u);
  EXPECT_EQ(*a, std::vector<Seq>{4});
}

// Queries see earlier mutations in call order, except that a read returns only durable
// records: appends still waiting for the round's write are not visible to it yet.
TEST_F(StorageOrder, QueriesIssuedAfterMutationsSeeThemButReadsOnlyDurableRecords) {
  auto appended = core::call_sync<std::vector<Seq>>(
      [&](auto done) { store_->append(batch_of(2), std::move(done)); });
  ASSERT_TRUE(appended.has_value()) << appended.error().to_string();

  hold_store_thread();
  std::promise<Result<std::vector<Seq>>> appended_after;
  std::promise<Result<Seq>> committed;
  std::promise<Result<core::ReadResult>> read;
  std::promise<Result<core::QueueStats>> stats;
  store_->append(batch_of(2), into(appended_after));
  store_->commit("q", "c", 1, into(committed));
  store_->read("q", {.cursor = "c"}, into(read));
  store_->queue_stats("q", into(stats));
  release_store_thread();

  auto a = appended_after.get_future().get();
  auto c = committed.get_future().get();
  auto r = read.get_future().get();
  auto s = stats.get_future().get();
  ASSERT_TRUE(a.has_value()) << a.error().to_string();
  ASSERT_TRUE(c.has_value()) << c.error().to_string();
  ASSERT_TRUE(r.has_value()) << r.error().to_string();
  ASSERT_TRUE(s.has_value()) << s.error().to_string();
  EXPECT_EQ(*a, (std::vector<Seq>{3, 4}));
  EXPECT_EQ(*c, 2u);
  std::vector<Seq> read_seqs;
  for (const auto& m : r->messages) read_seqs.push_back(m.seq);
  EXPECT_EQ(read_seqs, (std::vector<Seq>{2})) << "the cursor moved; 3 and 4 are not durable yet";
  EXPECT_EQ(r->next, 3u);
  EXPECT_EQ(s->head, 2u);
  EXPECT_EQ(s->next, 5u);
  EXPECT_EQ(s->appended, 4u);
}

}  // namespace
}  // namespace holdfast::storage
