// The router against the real store and a real event loop.
#include "broker/router/router.h"

#include <gtest/gtest.h>

#include <optional>

#include "storage/rocks_queue_store.h"
#include "test/unit/storage/store_fixture.h"

namespace holdfast::broker {
namespace {

struct Recorder : core::Subscriber {
  explicit Recorder(std::string id) : id(std::move(id)) {}
  void deliver(const core::Message& m, const core::PublishOptions&, const std::string& filter,
               const core::SubscriptionOptions& o, core::DurableCopies& durable) override {
    if (durable_queue) {
      durable.add(*durable_queue, m, [this](core::Seq seq) { stored_seqs.push_back(seq); });
    }
    got.push_back(m.address + "|" + filter + "|" + std::to_string(o.max_qos));
  }
  const std::string& subscriber_id() const override { return id; }
  std::string id;
  std::vector<std::string> got;
  std::optional<std::string> durable_queue;  // keep copies durably in this queue
  std::vector<core::Seq> stored_seqs;
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    storage::StoreOptions options;
    options.path = dir_.path() + "/store";
    options.min_free_disk_bytes = 0;
    auto store = storage::RocksQueueStore::open(options);
    ASSERT_TRUE(store) << store.error().to_string();
    store_ = std::move(*store);
    auto routes =
        RouteTable::build({{"devices/+/messages/events/#", "iothub/{1}"}, {"plant/#", "plant"}});
    ASSERT_TRUE(routes);
    router_ = std::make_unique<Router>(loop_, *store_, std::move(*routes));
  }

  // Submits on the loop thread and runs the loop until the callback arrives.
  core::Result<void> submit(core::Message m, core::PublishOptions options = {}) {
    core::Result<void> outcome = core::error(core::Code::kInternal, "no callback");
    loop_.post([&] {
      router_->submit(std::move(m), std::move(options), [&](core::Result<void> r) {
        EXPECT_TRUE(loop_.in_loop_thread());
        outcome = std::move(r);
        loop_.stop();
      });
    });
    loop_.run();
    return outcome;
  }

  // PublishOptions whose watch records its reports in `reports_`.
  core::PublishOptions watched() {
    core::PublishOptions options;
    options.watch = core::DeliveryWatch::make([this](core::Outcome o) { reports_.push_back(o); });
    return options;
  }

  std::vector<core::Outcome> reports_;
  storage::testing::TempDir dir_;
  core::EventLoop loop_;
  std::unique_ptr<storage::RocksQueueStore> store_;
  std::unique_ptr<Router> router_;
};

TEST_F(RouterTest, RoutedMessageIsDurableBeforeTheCallback) {
  auto r = submit(storage::testing::make_message("t1", "devices/d1/messages/events/a=b"));
  ASSERT_TRUE(r) << r.error().to_string();
  auto stats = core::call_sync<core::QueueStats>(
      [&](auto done) { store_->queue_stats("iothub/d1", std::move(done)); });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 1u);
  EXPECT_EQ(router_->counters().stored, 1u);
}

TEST_F(RouterTest, LiveSubscribersGetCopiesWithTheirOptions) {
  Recorder a("a"), b("b");
  router_->subscribe("plant/+", &a, {.max_qos = 1});
  router_->subscribe("plant/#", &b, {});
  router_->subscribe("plant/+", &b, {.max_qos = 2});
  router_->subscribe("other", &b, {});
  ASSERT_TRUE(submit(storage::testing::make_message("x", "plant/temp")));
  EXPECT_EQ(a.got, std::vector<std::string>{"plant/temp|plant/+|1"});
  // "b" matches twice (plant/# and plant/+ with QoS 2) but gets one copy at the higher QoS.
  EXPECT_EQ(b.got, std::vector<std::string>{"plant/temp|plant/#|2"});
  router_->unsubscribe_all(&a);
  ASSERT_TRUE(submit(storage::testing::make_message("y", "plant/temp")));
  EXPECT_EQ(a.got.size(), 1u);
  EXPECT_EQ(b.got.size(), 2u);
}

TEST_F(RouterTest, NoLocalSkipsThePublishersOwnSubscription) {
  Recorder a("client-a");
  router_->subscribe("t", &a, {.no_local = true});
  core::Message m = storage::testing::make_message("x", "t");
  m.origin.client_id = "client-a";
  ASSERT_TRUE(submit(m));
  EXPECT_TRUE(a.got.empty());
  m.origin.client_id = "client-b";
  ASSERT_TRUE(submit(m));
  EXPECT_EQ(a.got.size(), 1u);
}

TEST_F(RouterTest, DurableCopiesAreStoredBeforeThePublisherIsAcknowledged) {
  Recorder offline("persistent");
  offline.durable_queue = "$session/persistent";
  router_->subscribe("plant/#", &offline, {.max_qos = 1});
  ASSERT_TRUE(submit(storage::testing::make_message("a", "plant/x")));  // no route: copy only
  ASSERT_TRUE(submit(storage::testing::make_message("b", "devices/d9/messages/events")));
  EXPECT_EQ(offline.stored_seqs, std::vector<core::Seq>{1});  // the second did not match
  auto stats = core::call_sync<core::QueueStats>(
      [&](auto done) { store_->queue_stats("$session/persistent", std::move(done)); });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 1u);  // durable when submit() reported success
}

TEST_F(RouterTest, UnroutedUnsubscribedAddressIsNotFound) {
  auto r = submit(storage::testing::make_message("x", "nowhere"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kNotFound);
  EXPECT_EQ(router_->counters().no_route, 1u);
}

TEST_F(RouterTest, StoreRefusalReachesThePublisher) {
  auto r = submit(storage::testing::make_message(
      "x", "devices/" + std::string(2000, 'd') + "/messages/events"));
  ASSERT_FALSE(r);  // the queue name is longer than the store allows
  EXPECT_EQ(r.error().code(), core::Code::kInvalidArgument);
  EXPECT_EQ(router_->counters().store_refused, 1u);
}

// A subscriber that settles later: it takes a claim of the publisher's watch.
struct Claimer : Recorder {
  using Recorder::Recorder;
  void deliver(const core::Message& m, const core::PublishOptions& p, const std::string& filter,
               const core::SubscriptionOptions& o, core::DurableCopies& durable) override {
    Recorder::deliver(m, p, filter, o, durable);
    if (p.watch) claims.push_back(p.watch->claim());
  }
  std::vector<core::DeliveryClaim> claims;
};

TEST_F(RouterTest, AWatchedMessageIsAcceptedByASubscriberWithoutAClaim) {
  Recorder plain("plain");
  router_->subscribe("live/#", &plain, {});
  core::PublishOptions options = watched();
  ASSERT_TRUE(submit(storage::testing::make_message("w1", "live/a"), options));
  EXPECT_EQ(reports_, std::vector<core::Outcome>{core::Outcome::kAccepted});
}

TEST_F(RouterTest, AWatchedMessageWaitsForTheClaimOfASubscriberThatAnswersLater) {
  Claimer later("later");
  router_->subscribe("live/#", &later, {.max_qos = 1});
  core::PublishOptions options = watched();
  auto watch = options.watch;
  ASSERT_TRUE(submit(storage::testing::make_message("w2", "live/a"), options));
  watch->close();  // what the publisher does once its submit finished
  EXPECT_TRUE(reports_.empty());
  ASSERT_EQ(later.claims.size(), 1u);
  later.claims[0].settle(core::Outcome::kRejected);
  EXPECT_EQ(reports_, std::vector<core::Outcome>{core::Outcome::kRejected});
}

TEST_F(RouterTest, AWatchedMessageInARoutedQueueIsAcceptedOnceDurable) {
  Claimer later("later");
  router_->subscribe("devices/+/messages/events/#", &later, {.max_qos = 1});
  core::PublishOptions options = watched();
  ASSERT_TRUE(submit(storage::testing::make_message("w3", "devices/d1/messages/events"), options));
  // The claim is still open, but the queue has the message: the broker's custody.
  EXPECT_EQ(reports_, std::vector<core::Outcome>{core::Outcome::kAccepted});
}

}  // namespace
}  // namespace holdfast::broker
