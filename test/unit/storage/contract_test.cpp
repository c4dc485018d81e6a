// The QueueStore contract, run against the real RocksDB store in a temp dir.
#include <rocksdb/db.h>

#include <thread>

#include "storage/codec.h"
#include "storage/record.h"
#include "store_fixture.h"

namespace holdfast::storage {
namespace {

using testing::make_message;
using testing::StoreTest;

core::Message full_message() {
  core::Message m;
  m.address = "devices/dev1/messages/events";
  m.payload = std::string("\x00\x01\xfe\xff tea-encrypted\x00", 20);
  m.properties.message_id = "mid-1";
  m.properties.correlation_id = "cid-1";
  m.properties.content_type = "application/octet-stream";
  m.properties.content_encoding = "binary";
  m.properties.creation_time_ms = 1'699'999'999'123;
  m.properties.user = {{"b", "2"}, {"a", "1"}, {"b", "again"}, {"", ""}};
  m.origin = {core::Protocol::kAmqp, "container-7", "dev1"};
  m.received_at_ms = 1'700'000'000'456;
  m.amqp_bare = std::string("\x00\x53\x73\xc0\x02\x01\x40", 7);
  return m;
}

TEST_F(StoreTest, AppendAssignsDenseSequenceNumbersPerQueue) {
  EXPECT_EQ(*append_one("q1", "a"), 1u);
  EXPECT_EQ(*append_one("q1", "b"), 2u);
  EXPECT_EQ(*append_one("q2", "c"), 1u);
  std::vector<core::AppendRequest> batch(3);
  batch[0] = {"q1", make_message("d"), {}};
  batch[1] = {"q2", make_message("e"), {}};
  batch[2] = {"q1", make_message("f"), {}};
  auto seqs = append(std::move(batch));
  ASSERT_TRUE(seqs) << seqs.error().to_string();
  EXPECT_EQ(*seqs, (std::vector<core::Seq>{3, 2, 4}));
  EXPECT_EQ(payloads("q1"), (std::vector<std::string>{"a", "b", "d", "f"}));
  EXPECT_EQ(payloads("q2"), (std::vector<std::string>{"c", "e"}));
}

TEST_F(StoreTest, MessagesRoundTripExactly) {
  core::Message m = full_message();
  std::vector<core::AppendRequest> batch(1);
  batch[0] = {"q", m, {}};
  ASSERT_TRUE(append(std::move(batch)));
  reopen();
  auto r = read("q");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].message, m);
  EXPECT_EQ(r->messages[0].seq, 1u);
  EXPECT_FALSE(r->messages[0].dead_letter);
  EXPECT_EQ(r->messages[0].stored_bytes, encode_record(m, std::nullopt).size());
}

TEST_F(StoreTest, ReceivedAtIsStampedWhenMissing) {
  clock_ = 1'800'000'000'000;
  ASSERT_TRUE(append_one("q", "x"));
  auto r = read("q");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages[0].message.received_at_ms, 1'800'000'000'000);
  auto s = stats("q");
  EXPECT_EQ(s->oldest_received_at_ms, 1'800'000'000'000);
}

TEST_F(StoreTest, ReadHonoursLimitsButReturnsAtLeastOneMessage) {
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(append_one("q", std::string(100, 'a' + i)));
  core::ReadRequest request;
  request.max_messages = 3;
  auto r = read("q", request);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->messages.size(), 3u);
  EXPECT_EQ(r->messages[2].seq, 3u);
  EXPECT_EQ(r->next, 4u);

  request.from = r->next;
  request.max_messages = 100;
  request.max_bytes = 1;  // smaller than any record
  r = read("q", request);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->messages.size(), 1u);
  EXPECT_EQ(r->messages[0].seq, 4u);
  EXPECT_EQ(r->next, 5u);

  request.max_bytes = 2 * r->messages[0].stored_bytes;
  r = read("q", request);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages.size(), 2u);

  request.from = 11;  // at the end
  r = read("q", request);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->messages.empty());
  EXPECT_EQ(r->next, 11u);
}

TEST_F(StoreTest, ReadOfUnknownQueueIsNotFound) {
  auto r = read("nope");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kNotFound);
  EXPECT_NE(r.error().message().find("nope"), std::string::npos);
}

TEST_F(StoreTest, CommitAdvancesCursorAndRemovesConsumedMessages) {
  for (int i = 1; i <= 5; ++i) ASSERT_TRUE(append_one("q", "m" + std::to_string(i)));
  auto before = stats("q");
  ASSERT_TRUE(before);
  EXPECT_EQ(before->depth, 5u);

  auto pos = commit("q", "bridge", 2);
  ASSERT_TRUE(pos) << pos.error().to_string();
  EXPECT_EQ(*pos, 3u);
  auto after = stats("q");
  EXPECT_EQ(after->head, 3u);
  EXPECT_EQ(after->depth, 3u);
  EXPECT_EQ(after->removed, 2u);
  auto r = read("q");
  EXPECT_EQ(r->messages.front().message.payload, "m3");
  EXPECT_EQ(after->bytes, before->bytes - 2 * r->messages.front().stored_bytes);

  core::ReadRequest from_cursor;
  from_cursor.cursor = "bridge";
  EXPECT_EQ(read("q", from_cursor)->messages.front().seq, 3u);
  // Committing below the position changes nothing.
  EXPECT_EQ(*commit("q", "bridge", 1), 3u);
  // Committing past the end is an error that names the end.
  auto bad = commit("q", "bridge", 6);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), core::Code::kInvalidArgument);
  EXPECT_NE(bad.error().message().find("ends at 5"), std::string::npos);
  EXPECT_EQ(commit("missing", "c", 1).error().code(), core::Code::kNotFound);
}

TEST_F(StoreTest, MessagesStayUntilEveryCursorHasThem) {
  for (int i = 1; i <= 6; ++i) ASSERT_TRUE(append_one("q", std::to_string(i)));
  ASSERT_EQ(*create_cursor("q", "local"), 1u);
  ASSERT_TRUE(commit("q", "bridge", 4));
  EXPECT_EQ(stats("q")->head, 1u);  // "local" still needs 1..6
  ASSERT_TRUE(commit("q", "local", 2));
  EXPECT_EQ(stats("q")->head, 3u);
  ASSERT_TRUE(delete_cursor("q", "local"));
  EXPECT_EQ(stats("q")->head, 5u);  // only "bridge" (at 5) remains
  EXPECT_EQ(delete_cursor("q", "local").error().code(), core::Code::kNotFound);
  auto cursors = stats("q")->cursors;
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0], (core::CursorStats{"bridge", 5}));
}

TEST_F(StoreTest, CreateCursorIsIdempotentAndStartsAtTheHead) {
  for (int i = 1; i <= 4; ++i) ASSERT_TRUE(append_one("q", std::to_string(i)));
  ASSERT_TRUE(commit("q", "a", 2));
  EXPECT_EQ(*create_cursor("q", "b"), 3u);
  ASSERT_TRUE(commit("q", "b", 3));
  EXPECT_EQ(*create_cursor("q", "b"), 4u);
  // A cursor on a queue that does not exist yet creates the queue.
  EXPECT_EQ(*create_cursor("fresh", "c"), 1u);
  EXPECT_EQ(stats("fresh")->depth, 0u);
}

TEST_F(StoreTest, PurgeRemovesEverythingAndSequenceNumbersContinue) {
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(append_one("q", std::to_string(i)));
  EXPECT_EQ(*purge("q"), 3u);
  auto s = stats("q");
  EXPECT_EQ(s->depth, 0u);
  EXPECT_EQ(s->bytes, 0u);
  EXPECT_EQ(s->removed, 3u);
  EXPECT_EQ(s->oldest_received_at_ms, 0);
  EXPECT_EQ(*append_one("q", "4"), 4u);
  EXPECT_EQ(payloads("q"), (std::vector<std::string>{"4"}));
  EXPECT_EQ(purge("nope").error().code(), core::Code::kNotFound);
}

TEST_F(StoreTest, ReopenRestoresQueuesCursorsSequencesAndStats) {
  for (int i = 1; i <= 20; ++i) ASSERT_TRUE(append_one("q" + std::to_string(i % 3), "p"));
  ASSERT_TRUE(commit("q1", "bridge", 3));
  ASSERT_TRUE(create_cursor("q2", "local"));
  ASSERT_TRUE(commit("q2", "bridge", 7));
  ASSERT_TRUE(purge("q0"));
  auto before = list();
  ASSERT_TRUE(before);
  reopen();
  auto after = list();
  ASSERT_TRUE(after);
  ASSERT_EQ(after->size(), before->size());
  for (std::size_t i = 0; i < before->size(); ++i) {
    const auto& a = (*before)[i];
    const auto& b = (*after)[i];
    EXPECT_EQ(a.name, b.name);
    EXPECT_EQ(a.head, b.head);
    EXPECT_EQ(a.next, b.next);
    EXPECT_EQ(a.bytes, b.bytes);
    EXPECT_EQ(a.oldest_received_at_ms, b.oldest_received_at_ms);
    EXPECT_EQ(a.appended, b.appended);
    EXPECT_EQ(a.removed, b.removed);
    EXPECT_EQ(a.cursors, b.cursors);
  }
  EXPECT_EQ(*append_one("q1", "next"), 8u);  // q1 had 1,4,...,19 → 7 messages
}

TEST_F(StoreTest, InvalidNamesAreRejected) {
  auto r = append_one("", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kInvalidArgument);
  EXPECT_FALSE(append_one(std::string("a\0b", 3), "x"));
  EXPECT_FALSE(append_one(std::string(1025, 'q'), "x"));
  EXPECT_EQ(create_cursor("q", "").error().code(), core::Code::kInvalidArgument);
  EXPECT_TRUE(list()->empty());
}

TEST_F(StoreTest, ConcurrentAppendersGetUniqueDenseSequences) {
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::vector<core::Seq>> got(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto seq = append_one("shared", std::to_string(t) + ":" + std::to_string(i));
        if (seq) got[t].push_back(*seq);
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<core::Seq> all;
  for (auto& g : got) {
    EXPECT_TRUE(std::is_sorted(g.begin(), g.end()));  // one thread's appends stay in order
    all.insert(all.end(), g.begin(), g.end());
  }
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kThreads * kPerThread));
  for (std::size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
}

// Fires many appends without waiting, then waits for all: the store must group them.
std::uint64_t append_burst(core::QueueStore& store, int count) {
  std::atomic<int> done{0};
  std::atomic<int> failed{0};
  std::promise<void> all_done;
  for (int i = 0; i < count; ++i) {
    std::vector<core::AppendRequest> batch(1);
    batch[0] = {"burst", make_message(std::string(100, 'x')), {}};
    store.append(std::move(batch), [&](core::Result<std::vector<core::Seq>> r) {
      if (!r) ++failed;
      if (++done == count) all_done.set_value();
    });
  }
  all_done.get_future().wait();
  return static_cast<std::uint64_t>(failed.load());
}

TEST_F(StoreTest, GroupCommitWritesManyAppendsPerSyncedBatch) {
  options_.sync = SyncMode::kFsync;
  reopen();
  ASSERT_EQ(append_burst(*store_, 2000), 0u);
  auto s = store_stats();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->appended_messages, 2000u);
  EXPECT_GT(s->max_batch_messages, 1u);
  EXPECT_LT(s->synced_batches, 2000u);
  EXPECT_GT(s->synced_batches, 0u);
}

TEST_F(StoreTest, OneMessagePerBatchTurnsGroupCommitOff) {
  options_.sync = SyncMode::kFsync;
  options_.max_batch_messages = 1;
  reopen();
  ASSERT_EQ(append_burst(*store_, 50), 0u);
  auto s = store_stats();
  EXPECT_EQ(s->synced_batches, 50u);
  EXPECT_EQ(s->max_batch_messages, 1u);
}

TEST_F(StoreTest, OsSyncModeNeverWaitsForFsync) {
  ASSERT_EQ(append_burst(*store_, 100), 0u);
  auto s = store_stats();
  EXPECT_EQ(s->synced_batches, 0u);
  EXPECT_GT(s->write_batches, 0u);
}

TEST_F(StoreTest, StoreStatsSumTheQueues) {
  ASSERT_TRUE(append_one("a", "1"));
  ASSERT_TRUE(append_one("a", "2"));
  ASSERT_TRUE(append_one("b", "3"));
  auto s = store_stats();
  EXPECT_EQ(s->queues, 2u);
  EXPECT_EQ(s->messages, 3u);
  EXPECT_EQ(s->bytes, stats("a")->bytes + stats("b")->bytes);
}

// Opens the RocksDB directory directly and counts the records of the store's only queue.
std::size_t raw_record_count(const std::string& path) {
  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, {}}, {"messages", {}}, {"meta", {}}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  auto s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, families, &handles, &db);
  EXPECT_TRUE(s.ok()) << s.ToString();
  if (!s.ok()) return 0;
  std::size_t count = 0;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[1]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
  it.reset();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db;
  return count;
}

TEST_F(StoreTest, ConsumedRecordsAreDeletedFromRocksDb) {
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(append_one("q", "x"));
  ASSERT_TRUE(commit("q", "c", 30));
  run_retention();  // deletes the consumed range now instead of in a later chunk
  store_.reset();
  EXPECT_EQ(raw_record_count(options_.path), 20u);
  open();
  EXPECT_EQ(read("q")->messages.front().seq, 31u);
}

TEST_F(StoreTest, RefusesAStoreFromTheFuture) {
  store_.reset();
  {
    std::vector<rocksdb::ColumnFamilyDescriptor> families = {
        {rocksdb::kDefaultColumnFamilyName, {}}, {"messages", {}}, {"meta", {}}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), options_.path, families, &handles, &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), handles[2], format_version_key(),
                        std::to_string(kFormatVersion + 1))
                    .ok());
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    delete db;
  }
  auto store = RocksQueueStore::open(options_);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), core::Code::kUnsupported);
  EXPECT_NE(store.error().message().find("newer"), std::string::npos);
}

TEST_F(StoreTest, ASecondOwnerIsRefusedWithAReason) {
  auto second = RocksQueueStore::open(options_);
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code(), core::Code::kIoError);
  EXPECT_NE(second.error().message().find(options_.path), std::string::npos);
}

TEST_F(StoreTest, ReadOnlyHandleFollowsTheOwner) {
  ASSERT_TRUE(append_one("q", "first"));
  auto ro = RocksQueueStore::open_read_only(options_.path);
  ASSERT_TRUE(ro) << ro.error().to_string();
  auto read_ro = [&](const std::string& queue) {
    return core::call_sync<core::ReadResult>(
        [&](auto done) { (*ro)->read(queue, {}, std::move(done)); });
  };
  auto r = read_ro("q");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->messages.size(), 1u);

  ASSERT_TRUE(append_one("q", "second"));
  ASSERT_TRUE(append_one("other", "third"));
  r = read_ro("q");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->messages.size(), 2u);
  EXPECT_TRUE(read_ro("other"));

  std::vector<core::AppendRequest> batch(1);
  batch[0] = {"q", make_message("nope"), {}};
  auto refused = core::call_sync<std::vector<core::Seq>>(
      [&](auto done) { (*ro)->append(std::move(batch), std::move(done)); });
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), core::Code::kUnsupported);
}

TEST(ReadOnlyStore, MissingStoreIsNotFound) {
  auto ro = RocksQueueStore::open_read_only("/nonexistent/holdfast-store");
  ASSERT_FALSE(ro);
  EXPECT_EQ(ro.error().code(), core::Code::kNotFound);
}

}  // namespace
}  // namespace holdfast::storage
