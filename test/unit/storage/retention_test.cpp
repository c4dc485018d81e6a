// Retention: TTL, queue and store quotas under both overflow policies, dead-letter queues, and
// the free-disk guard. A fake clock drives every age; retention runs on demand.
#include "store_fixture.h"

namespace holdfast::storage {
namespace {

using testing::make_message;
using testing::StoreTest;

class RetentionTest : public StoreTest {
 protected:
  // Appends `count` messages of `size` payload bytes to `queue`; returns the record size.
  std::size_t fill(const std::string& queue, int count, std::size_t size = 100) {
    for (int i = 0; i < count; ++i) {
      auto seq = append_one(queue, std::string(size, static_cast<char>('a' + i % 26)));
      EXPECT_TRUE(seq) << seq.error().to_string();
    }
    auto r = read(queue);
    return r && !r->messages.empty() ? r->messages.back().stored_bytes : 0;
  }
  void set_policy(std::string pattern, core::QueuePolicy policy) {
    options_.policies.emplace_back(std::move(pattern), std::move(policy));
    reopen();
  }
};

TEST_F(RetentionTest, TtlExpiresOnlyMessagesOlderThanIt) {
  set_policy("telemetry/#", {.ttl_ms = 60'000});
  fill("telemetry/a", 3);
  clock_ += 30'000;
  fill("telemetry/a", 2);
  fill("other", 2);
  clock_ += 30'001;  // the first three are now 60.001 s old, the next two 30.001 s
  run_retention();
  auto s = stats("telemetry/a");
  EXPECT_EQ(s->head, 4u);
  EXPECT_EQ(s->depth, 2u);
  EXPECT_EQ(s->expired, 3u);
  EXPECT_EQ(s->dropped, 0u);
  EXPECT_EQ(s->oldest_received_at_ms, clock_ - 30'001);
  EXPECT_EQ(stats("other")->depth, 2u);  // default policy keeps forever
  clock_ += 30'000;
  run_retention();
  EXPECT_EQ(stats("telemetry/a")->depth, 0u);
  EXPECT_EQ(stats("telemetry/a")->expired, 5u);
  EXPECT_EQ(stats("telemetry/a")->bytes, 0u);
}

TEST_F(RetentionTest, ExpiredMessagesGoToTheDeadLetterQueueIntact) {
  set_policy("q", {.ttl_ms = 1000, .dead_letter_queue = "dlq"});
  core::Message m = make_message("secret\x01\x02", "devices/d/messages/events");
  m.properties.user = {{"k", "v"}};
  std::vector<core::AppendRequest> batch(1);
  batch[0] = {"q", m, {}};
  ASSERT_TRUE(append(std::move(batch)));
  std::int64_t received = clock_;
  clock_ += 5000;
  run_retention();
  EXPECT_EQ(stats("q")->expired, 1u);
  EXPECT_EQ(stats("q")->dead_lettered, 1u);
  auto r = read("dlq");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->messages.size(), 1u);
  const auto& dead = r->messages[0];
  m.received_at_ms = received;
  EXPECT_EQ(dead.message, m);
  ASSERT_TRUE(dead.dead_letter);
  EXPECT_EQ(dead.dead_letter->reason, "expired");
  EXPECT_EQ(dead.dead_letter->original_queue, "q");
  EXPECT_EQ(dead.dead_letter->original_seq, 1u);
  EXPECT_EQ(dead.dead_letter->dead_lettered_at_ms, clock_);
  reopen();  // the move survives a restart
  EXPECT_EQ(stats("dlq")->depth, 1u);
  EXPECT_EQ(stats("q")->depth, 0u);
}

TEST_F(RetentionTest, QueueQuotaRejectLeavesStoredMessagesUntouched) {
  std::size_t record = fill("probe", 1);
  set_policy("q", {.max_bytes = 3 * record});
  fill("q", 3);
  auto refused = append_one("q", std::string(100, 'z'));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code(), core::Code::kResourceExhausted);
  EXPECT_NE(refused.error().message().find("queue 'q' is full"), std::string::npos);
  EXPECT_EQ(payloads("q"), (std::vector<std::string>{std::string(100, 'a'), std::string(100, 'b'),
                                                     std::string(100, 'c')}));
  EXPECT_EQ(store_stats()->rejected_appends, 1u);
  ASSERT_TRUE(commit("q", "c", 1));  // draining makes room again
  EXPECT_TRUE(append_one("q", std::string(100, 'z')));
}

TEST_F(RetentionTest, QueueQuotaDropOldestDropsAndCounts) {
  std::size_t record = fill("probe", 1);
  set_policy("q", {.max_bytes = 3 * record,
                   .overflow = core::OverflowPolicy::kDropOldest,
                   .dead_letter_queue = "q-dlq"});
  fill("q", 5);
  auto s = stats("q");
  EXPECT_EQ(s->depth, 3u);
  EXPECT_EQ(s->head, 3u);
  EXPECT_EQ(s->dropped, 2u);
  EXPECT_EQ(s->dead_lettered, 2u);
  EXPECT_LE(s->bytes, 3 * record);
  auto dlq = read("q-dlq");
  ASSERT_TRUE(dlq);
  ASSERT_EQ(dlq->messages.size(), 2u);
  EXPECT_EQ(dlq->messages[0].dead_letter->reason, "quota");
  EXPECT_EQ(dlq->messages[1].dead_letter->original_seq, 2u);
  EXPECT_EQ(dlq->messages[0].message.payload, std::string(100, 'a'));
}

TEST_F(RetentionTest, AMessageLargerThanTheQuotaIsTooLarge) {
  set_policy("q", {.max_bytes = 50, .overflow = core::OverflowPolicy::kDropOldest});
  auto r = append_one("q", std::string(100, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kTooLarge);
}

TEST_F(RetentionTest, StoreQuotaRejectRefusesAndKeepsEverything) {
  std::size_t record = fill("a", 2);
  options_.quota_bytes = 3 * record;
  reopen();
  fill("b", 1);
  auto r = append_one("c", std::string(100, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kResourceExhausted);
  EXPECT_NE(r.error().message().find("store is full"), std::string::npos);
  EXPECT_EQ(stats("a")->depth, 2u);
  EXPECT_EQ(stats("b")->depth, 1u);
  EXPECT_FALSE(stats("c"));  // the refused append created nothing
}

TEST_F(RetentionTest, StoreQuotaDropOldestDropsTheGloballyOldestMessage) {
  std::size_t record = fill("probe", 1);
  ASSERT_TRUE(purge("probe"));
  options_.quota_bytes = 4 * record;
  options_.quota_policy = core::OverflowPolicy::kDropOldest;
  reopen();
  fill("old", 2);
  clock_ += 1000;
  fill("new", 2);
  clock_ += 1000;
  fill("newest", 1);
  EXPECT_EQ(stats("old")->depth, 1u);
  EXPECT_EQ(stats("old")->dropped, 1u);
  EXPECT_EQ(stats("new")->depth, 2u);
  EXPECT_LE(store_stats()->bytes, 4 * record);
  fill("newest", 1);
  EXPECT_EQ(stats("old")->depth, 0u);
  EXPECT_EQ(stats("new")->depth, 2u);
}

TEST_F(RetentionTest, AFullDeadLetterQueueDoesNotBlockRetention) {
  std::size_t record = fill("probe", 1);
  core::QueuePolicy dlq_policy{.max_bytes = record + record / 2};  // room for one, reject
  options_.policies.emplace_back("dlq", dlq_policy);
  set_policy("q", {.ttl_ms = 10, .dead_letter_queue = "dlq"});
  fill("q", 3);
  clock_ += 100;
  run_retention();
  EXPECT_EQ(stats("q")->expired, 3u);
  EXPECT_EQ(stats("q")->dead_lettered, 1u);
  EXPECT_EQ(stats("dlq")->depth, 1u);
}

TEST_F(RetentionTest, QuotaAccountingSurvivesReopen) {
  std::size_t record = fill("probe", 1);
  set_policy("q", {.max_bytes = 2 * record});
  fill("q", 2);
  reopen();
  auto r = append_one("q", std::string(100, 'x'));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kResourceExhausted);
}

TEST_F(RetentionTest, NearlyFullDiskRefusesAppends) {
  options_.min_free_disk_bytes = std::uint64_t{1} << 60;  // more than any disk has
  reopen();
  auto r = append_one("q", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kResourceExhausted);
  EXPECT_NE(r.error().message().find("disk nearly full"), std::string::npos);
  EXPECT_FALSE(stats("q"));
}

TEST_F(RetentionTest, FirstMatchingPolicyWins) {
  options_.policies.emplace_back("iothub/#", core::QueuePolicy{.ttl_ms = 5});
  options_.policies.emplace_back("#", core::QueuePolicy{.ttl_ms = 50});
  options_.default_policy.max_bytes = 12345;
  reopen();
  fill("iothub/dev1", 1);
  fill("local", 1);
  EXPECT_EQ(stats("iothub/dev1")->policy.ttl_ms, 5);
  EXPECT_EQ(stats("local")->policy.ttl_ms, 50);
  EXPECT_EQ(policy_for(options_, "$weird").max_bytes, 12345u);  // '#' skips '$' names
}

}  // namespace
}  // namespace holdfast::storage
