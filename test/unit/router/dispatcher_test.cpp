// The dispatcher against the real store and a real event loop running on its own thread.
#include "broker/router/dispatcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "broker/router/router.h"
#include "storage/rocks_queue_store.h"
#include "test/unit/storage/store_fixture.h"

namespace holdfast::broker {
namespace {

using core::Outcome;
using storage::testing::make_message;
constexpr auto kDeadline = std::chrono::seconds(20);  // only a hung test waits this long

// A consumer with a credit the test sets; deliveries are recorded for the test thread.
class FakeConsumer : public core::QueueConsumer {
 public:
  explicit FakeConsumer(std::size_t credit = 0) : credit_(credit) {}
  std::size_t credit() const override { return credit_; }  // loop thread
  void deliver(core::QueueDelivery d) override {
    EXPECT_GT(credit_, 0u);
    --credit_;
    std::lock_guard lock(mu_);
    got_.push_back(std::move(d));
    cv_.notify_all();
  }
  void set_credit(std::size_t credit) { credit_ = credit; }  // loop thread

  // Test thread: the first `n` deliveries, once there are that many (fails after kDeadline).
  std::vector<core::QueueDelivery> wait_for(std::size_t n) {
    std::unique_lock lock(mu_);
    bool ok = cv_.wait_for(lock, kDeadline, [&] { return got_.size() >= n; });
    EXPECT_TRUE(ok) << "got " << got_.size() << " of " << n << " deliveries";
    return got_;
  }
  std::vector<core::QueueDelivery> got() {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  std::size_t credit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<core::QueueDelivery> got_;
};

std::vector<core::Seq> seqs(const std::vector<core::QueueDelivery>& deliveries) {
  std::vector<core::Seq> out;
  for (const auto& d : deliveries) out.push_back(d.seq);
  return out;
}

class DispatcherTest : public storage::testing::StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    auto routes = RouteTable::build({{"devices/+/messages/events/#", "iothub/{1}"}});
    ASSERT_TRUE(routes);
    routes_ = std::move(*routes);
    loop_thread_ = std::thread([this] { loop_.run(); });
    make_dispatcher();
  }
  void TearDown() override {
    on_loop([&] {
      router_.reset();
      dispatcher_.reset();
    });
    loop_.stop();
    loop_thread_.join();
    store_.reset();  // its last callbacks post to the loop, which must still exist
  }

  // Runs `f` on the loop thread and waits for it.
  template <typename F>
  void on_loop(F f) {
    std::promise<void> done;
    loop_.post([&] {
      f();
      done.set_value();
    });
    ASSERT_EQ(done.get_future().wait_for(kDeadline), std::future_status::ready);
  }

  void make_dispatcher(DispatcherOptions options = {}) {
    on_loop([&] {
      dispatcher_ = std::make_unique<Dispatcher>(loop_, *store_, routes_, std::move(options));
      router_ = std::make_unique<Router>(loop_, *store_, routes_);
      router_->set_append_listener(
          [this](const std::string& queue, core::Seq seq) { dispatcher_->appended(queue, seq); });
    });
  }

  void append_n(const std::string& queue, int n) {
    for (int i = 1; i <= n; ++i) ASSERT_TRUE(append_one(queue, "m" + std::to_string(i)));
  }
  void attach(const std::string& queue, FakeConsumer& c) {
    on_loop([&] { ASSERT_TRUE(dispatcher_->attach(queue, &c).ok()); });
  }
  void settle(FakeConsumer& c, core::Seq seq, Outcome outcome, const std::string& reason = {}) {
    on_loop([&] { dispatcher_->settle(&c, seq, outcome, reason); });
  }
  void give_credit(FakeConsumer& c, std::size_t credit) {
    on_loop([&] {
      c.set_credit(credit);
      dispatcher_->wake(&c);
    });
  }
  // The dispatcher's view of `queue`, once `ready` holds for it. Each attempt is one round trip
  // through the loop, and the states it waits for follow store answers already under way.
  ConsumerQueueSnapshot snapshot_when(
      const std::string& queue, const std::function<bool(const ConsumerQueueSnapshot&)>& ready) {
    auto deadline = std::chrono::steady_clock::now() + kDeadline;
    ConsumerQueueSnapshot found;
    while (std::chrono::steady_clock::now() < deadline) {
      bool ok = false;
      on_loop([&] {
        for (const auto& s : dispatcher_->snapshot()) {
          if (s.queue == queue && ready(s)) {
            found = s;
            ok = true;
          }
        }
      });
      if (ok) return found;
      std::this_thread::yield();
    }
    ADD_FAILURE() << "queue '" << queue << "' never reached the expected state";
    return found;
  }
  core::Seq cursor(const std::string& queue, const std::string& name = "local") {
    auto s = stats(queue);
    EXPECT_TRUE(s) << s.error().to_string();
    if (!s) return 0;
    for (const auto& c : s->cursors) {
      if (c.name == name) return c.position;
    }
    return 0;
  }

  core::EventLoop loop_;
  std::thread loop_thread_;
  RouteTable routes_;
  std::unique_ptr<Dispatcher> dispatcher_;
  std::unique_ptr<Router> router_;
};

TEST_F(DispatcherTest, OneConsumerGetsTheQueueInOrder) {
  append_n("q", 10);
  FakeConsumer c(100);
  attach("q", c);
  auto got = c.wait_for(10);
  ASSERT_EQ(got.size(), 10u);
  for (std::size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].queue, "q");
    EXPECT_EQ(got[i].seq, i + 1);
    EXPECT_EQ(got[i].delivery_count, 0u);
    EXPECT_EQ(got[i].message.payload, "m" + std::to_string(i + 1));
  }
  EXPECT_EQ(dispatcher_->counters().delivered, 10u);
  EXPECT_EQ(dispatcher_->counters().consumers, 1);
}

TEST_F(DispatcherTest, CreditLimitsDeliveriesAndWakeResumes) {
  append_n("q", 3);
  FakeConsumer c(0);
  attach("q", c);
  // Everything is read ahead and nothing delivered: deliveries happen in the same loop task
  // as the read's answer, so the snapshot would show them.
  auto s = snapshot_when("q", [](const auto& s) { return s.buffered == 3; });
  EXPECT_EQ(s.unsettled, 0u);
  EXPECT_TRUE(c.got().empty());
  give_credit(c, 2);
  EXPECT_EQ(seqs(c.wait_for(2)), (std::vector<core::Seq>{1, 2}));
  s = snapshot_when("q", [](const auto& s) { return s.unsettled == 2; });
  EXPECT_EQ(s.buffered, 1u);
  EXPECT_EQ(c.got().size(), 2u);
  give_credit(c, 5);
  EXPECT_EQ(seqs(c.wait_for(3)), (std::vector<core::Seq>{1, 2, 3}));
}

TEST_F(DispatcherTest, CompetingConsumersShareTheQueue) {
  append_n("q", 20);
  FakeConsumer a(100), b(100);
  on_loop([&] {  // attached together, so neither gets a head start
    ASSERT_TRUE(dispatcher_->attach("q", &a).ok());
    ASSERT_TRUE(dispatcher_->attach("q", &b).ok());
  });
  snapshot_when("q", [](const auto& s) { return s.unsettled == 20; });
  auto got_a = seqs(a.got()), got_b = seqs(b.got());
  EXPECT_FALSE(got_a.empty());
  EXPECT_FALSE(got_b.empty());
  EXPECT_TRUE(std::is_sorted(got_a.begin(), got_a.end()));
  EXPECT_TRUE(std::is_sorted(got_b.begin(), got_b.end()));
  std::vector<core::Seq> all = got_a;
  all.insert(all.end(), got_b.begin(), got_b.end());
  std::sort(all.begin(), all.end());
  std::vector<core::Seq> expected(20);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = i + 1;
  EXPECT_EQ(all, expected);  // disjoint and complete
}

TEST_F(DispatcherTest, ReleasedKeepsTheCountModifiedIncrementsIt) {
  append_n("q", 2);
  FakeConsumer c(1);
  attach("q", c);
  ASSERT_EQ(c.wait_for(1).back().seq, 1u);
  settle(c, 1, Outcome::kReleased);
  give_credit(c, 1);
  auto got = c.wait_for(2);
  EXPECT_EQ(got[1].seq, 1u);  // redeliveries before fresh messages
  EXPECT_EQ(got[1].delivery_count, 0u);
  settle(c, 1, Outcome::kModified);
  give_credit(c, 1);
  got = c.wait_for(3);
  EXPECT_EQ(got[2].seq, 1u);
  EXPECT_EQ(got[2].delivery_count, 1u);
  EXPECT_EQ(got[2].message.payload, "m1");
  settle(c, 1, Outcome::kAccepted);
  give_credit(c, 1);
  got = c.wait_for(4);
  EXPECT_EQ(got[3].seq, 2u);
  EXPECT_EQ(dispatcher_->counters().redelivered, 2u);
  EXPECT_EQ(dispatcher_->counters().accepted, 1u);
}

TEST_F(DispatcherTest, RejectedGoesToTheDeadLetterQueueAndLeavesTheSource) {
  append_n("q", 1);
  FakeConsumer c(10), dead(10);
  attach("q", c);
  attach("deadletter/q", dead);
  ASSERT_EQ(c.wait_for(1).size(), 1u);
  settle(c, 1, Outcome::kRejected, "cannot decrypt");
  // The dead-letter append wakes the consumer of the dead-letter queue.
  auto got = dead.wait_for(1);
  EXPECT_EQ(got[0].message.payload, "m1");
  auto r = read("deadletter/q");
  ASSERT_TRUE(r) << r.error().to_string();
  ASSERT_EQ(r->messages.size(), 1u);
  ASSERT_TRUE(r->messages[0].dead_letter);
  EXPECT_EQ(r->messages[0].dead_letter->reason, "cannot decrypt");
  EXPECT_EQ(r->messages[0].dead_letter->original_queue, "q");
  EXPECT_EQ(r->messages[0].dead_letter->original_seq, 1u);
  EXPECT_GT(r->messages[0].dead_letter->dead_lettered_at_ms, 0);
  // The commit was issued before the wake-up, and store operations run in call order.
  EXPECT_EQ(cursor("q"), 2u);
  EXPECT_EQ(stats("q")->depth, 0u);
  EXPECT_EQ(dispatcher_->counters().dead_lettered, 1u);
}

TEST_F(DispatcherTest, FailedDeadLetteringDeliversAgain) {
  // A name longer than the store allows ("" would mean the default dead-letter queue).
  make_dispatcher({.dead_letter_queue = [](const std::string&) { return std::string(2000, 'x'); }});
  append_n("q", 1);
  FakeConsumer c(1);
  attach("q", c);
  ASSERT_EQ(c.wait_for(1).size(), 1u);
  settle(c, 1, Outcome::kRejected);  // the store refuses the dead-letter queue's name
  give_credit(c, 1);
  auto got = c.wait_for(2);
  EXPECT_EQ(got[1].seq, 1u);
  EXPECT_EQ(got[1].delivery_count, 1u);
  EXPECT_EQ(dispatcher_->counters().dead_letter_failures, 1u);
  EXPECT_EQ(dispatcher_->counters().dead_lettered, 0u);
  EXPECT_EQ(cursor("q"), 1u);
}

TEST_F(DispatcherTest, LastConsumerLeavingKeepsWhatItGaveBack) {
  append_n("q", 5);
  FakeConsumer a(2);
  attach("q", a);
  ASSERT_EQ(seqs(a.wait_for(2)), (std::vector<core::Seq>{1, 2}));
  snapshot_when("q", [](const auto& s) { return s.buffered == 3; });  // 3..5 read ahead
  settle(a, 1, Outcome::kAccepted);
  on_loop([&] { dispatcher_->detach(&a); });
  FakeConsumer b(10);
  attach("q", b);
  auto got = b.wait_for(4);
  EXPECT_EQ(seqs(got), (std::vector<core::Seq>{2, 3, 4, 5}));
  EXPECT_EQ(got[0].delivery_count, 1u);
  EXPECT_EQ(got[1].delivery_count, 0u);
  for (core::Seq seq = 2; seq <= 5; ++seq) settle(b, seq, Outcome::kAccepted);
  on_loop([&] { dispatcher_->detach(&b); });
  // Nothing left to hold: the state goes once the last commit returned.
  auto deadline = std::chrono::steady_clock::now() + kDeadline;
  bool gone = false;
  while (!gone && std::chrono::steady_clock::now() < deadline) {
    on_loop([&] { gone = dispatcher_->snapshot().empty(); });
  }
  EXPECT_TRUE(gone);
  EXPECT_EQ(cursor("q"), 6u);
  on_loop([&] { EXPECT_TRUE(dispatcher_->is_queue("q")); });  // still known
  append_n("q", 1);
  FakeConsumer c(10);
  attach("q", c);
  EXPECT_EQ(seqs(c.wait_for(1)), (std::vector<core::Seq>{6}));
}

TEST_F(DispatcherTest, DetachGivesUnsettledToAnotherConsumer) {
  append_n("q", 3);
  FakeConsumer a(2), b(5);
  attach("q", a);
  ASSERT_EQ(seqs(a.wait_for(2)), (std::vector<core::Seq>{1, 2}));
  attach("q", b);
  ASSERT_EQ(seqs(b.wait_for(1)), (std::vector<core::Seq>{3}));
  on_loop([&] { dispatcher_->detach(&a); });
  auto got = b.wait_for(3);
  ASSERT_EQ(seqs(got), (std::vector<core::Seq>{3, 1, 2}));
  EXPECT_EQ(got[1].delivery_count, 1u);
  EXPECT_EQ(got[2].delivery_count, 1u);
  EXPECT_EQ(a.got().size(), 2u);
  on_loop([&] { dispatcher_->detach(&b); });
  EXPECT_EQ(dispatcher_->counters().consumers, 0);
}

TEST_F(DispatcherTest, OutOfOrderAcceptsCommitOnlyTheSettledPrefix) {
  append_n("q", 3);
  FakeConsumer c(3);
  attach("q", c);
  ASSERT_EQ(c.wait_for(3).size(), 3u);
  // No commit is in flight before each check, so the commit (if any) is issued inside
  // settle() and the store answers the statistics after it.
  settle(c, 3, Outcome::kAccepted);
  settle(c, 2, Outcome::kAccepted);
  EXPECT_EQ(cursor("q"), 1u);
  settle(c, 1, Outcome::kAccepted);
  EXPECT_EQ(cursor("q"), 4u);
  EXPECT_EQ(snapshot_when("q", [](const auto& s) { return s.committed == 4; }).unsettled, 0u);
}

TEST_F(DispatcherTest, ConsumerWaitingAtTheEndGetsARoutedAppend) {
  FakeConsumer c(10);
  attach("iothub/d1", c);
  snapshot_when("iothub/d1", [](const auto& s) { return s.caught_up; });
  on_loop([&] {
    router_->submit(make_message("hello", "devices/d1/messages/events"), {},
                    [](core::Result<void> r) { EXPECT_TRUE(r); });
  });
  auto got = c.wait_for(1);
  EXPECT_EQ(got[0].seq, 1u);
  EXPECT_EQ(got[0].message.payload, "hello");
}

TEST_F(DispatcherTest, AfterARestartOnlyTheUnconsumedComeBack) {
  append_n("q", 5);
  FakeConsumer c(5);
  attach("q", c);
  ASSERT_EQ(c.wait_for(5).size(), 5u);
  on_loop([&] {  // in one task, so the second commit waits for the first
    dispatcher_->settle(&c, 1, Outcome::kAccepted);
    dispatcher_->settle(&c, 2, Outcome::kAccepted);
    dispatcher_->settle(&c, 4, Outcome::kAccepted);  // above unsettled 3: not committed
  });
  on_loop([&] {
    router_.reset();
    dispatcher_.reset();  // issues the pending commit
  });
  reopen();
  make_dispatcher();
  FakeConsumer d(10);
  attach("q", d);
  auto got = d.wait_for(3);
  EXPECT_EQ(seqs(got), (std::vector<core::Seq>{3, 4, 5}));
  EXPECT_EQ(snapshot_when("q", [](const auto& s) { return s.caught_up; }).unsettled, 3u);
  EXPECT_EQ(d.got().size(), 3u);
}

TEST_F(DispatcherTest, IsQueueKnowsTemplatesAndExistingQueues) {
  make_dispatcher({.known_queues = {"stored/q"}});
  on_loop([&] {
    EXPECT_TRUE(dispatcher_->is_queue("iothub/dev1"));
    EXPECT_TRUE(dispatcher_->is_queue("stored/q"));
    EXPECT_FALSE(dispatcher_->is_queue("iothub/a/b"));
    EXPECT_FALSE(dispatcher_->is_queue("devices/dev1/messages/events"));
    EXPECT_FALSE(dispatcher_->is_queue("new/q"));
    dispatcher_->appended("new/q", 1);
    EXPECT_TRUE(dispatcher_->is_queue("new/q"));
  });
}

TEST_F(DispatcherTest, AttachChecksNamesAndDuplicates) {
  FakeConsumer c;
  on_loop([&] {
    EXPECT_EQ(dispatcher_->attach("", &c).code(), core::Code::kInvalidArgument);
    EXPECT_EQ(dispatcher_->attach(std::string(1025, 'q'), &c).code(), core::Code::kInvalidArgument);
    EXPECT_TRUE(dispatcher_->attach("q", &c).ok());
    EXPECT_EQ(dispatcher_->attach("q", &c).code(), core::Code::kAlreadyExists);
    EXPECT_EQ(dispatcher_->attach("other", &c).code(), core::Code::kAlreadyExists);
    dispatcher_->detach(&c);
    dispatcher_->detach(&c);                         // a no-op
    dispatcher_->settle(&c, 1, Outcome::kAccepted);  // ignored
  });
}

}  // namespace
}  // namespace holdfast::broker
