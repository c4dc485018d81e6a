#pragma once
// Router: the broker's Ingress and SubscriptionRegistry. Takes a message from an adapter, copies
// it to matching live subscribers, appends it to the durable queues its routes name, and tells
// the adapter once it is durable.
//
// Concurrency
//   Everything runs on the io thread that owns `loop`. The store's completion arrives on the
//   store thread and is posted back to the loop before the adapter's callback runs.
//
// Limitations
//   Live copies are delivered before the message is durable: a subscriber may see a message
//   whose append then fails (the publisher, not acknowledged, will retry: at-least-once).

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "broker/core/event_loop.h"
#include "broker/core/ingress.h"
#include "broker/core/queue_store.h"
#include "broker/core/subscriptions.h"
#include "broker/router/routes.h"
#include "broker/router/subscription_trie.h"

namespace holdfast::broker {

struct RouterCounters {
  std::atomic<std::uint64_t> received[5] = {};  // by core::Protocol
  std::atomic<std::uint64_t> stored{0};         // messages durably appended (per message)
  std::atomic<std::uint64_t> no_route{0};       // matched neither a route nor a subscriber
  std::atomic<std::uint64_t> store_refused{0};  // appends the store failed or refused
  std::atomic<std::uint64_t> live_deliveries{0};
};

class Router final : public core::Ingress, public core::SubscriptionRegistry {
 public:
  // `loop` and `store` must outlive the router; all calls on the loop's thread.
  Router(core::EventLoop& loop, core::QueueStore& store, RouteTable routes);

  void submit(core::Message message, core::PublishOptions options,
              core::Callback<void> done) override;

  void subscribe(const std::string& filter, core::Subscriber* subscriber,
                 core::SubscriptionOptions options) override;
  bool unsubscribe(const std::string& filter, core::Subscriber* subscriber) override;
  void unsubscribe_all(core::Subscriber* subscriber) override;

  // Io thread. `listener(queue, seq)` is called on the io thread for every message the store
  // made durable through this router (routed queues and subscribers' durable copies), after
  // the append succeeded and before the publisher's callback; e.g. the Dispatcher's appended(),
  // so that consumers waiting at the end of a queue wake. Empty: none (the default).
  void set_append_listener(std::function<void(const std::string& queue, core::Seq seq)> listener) {
    append_listener_ = std::move(listener);
  }

  // Io thread. `listener(filter)` is called on every subscribe() (e.g. the bridge learns that a
  // device wants its cloud-to-device messages). Empty: none (the default).
  void set_subscribe_listener(std::function<void(const std::string& filter)> listener) {
    subscribe_listener_ = std::move(listener);
  }

  // The routes, for whoever needs to know which names are queues (the Dispatcher).
  const RouteTable& routes() const { return routes_; }
  const RouterCounters& counters() const { return counters_; }
  std::size_t subscription_count() const { return trie_.size(); }

 private:
  void deliver_live(const core::Message& message, const core::PublishOptions& options,
                    core::DurableCopies& durable);

  core::EventLoop& loop_;
  core::QueueStore& store_;
  RouteTable routes_;
  SubscriptionTrie trie_;
  std::vector<const SubscriptionTrie::Entry*> matches_;  // reused per publish
  RouterCounters counters_;
  std::function<void(const std::string& queue, core::Seq seq)> append_listener_;
  std::function<void(const std::string& filter)> subscribe_listener_;
};

}  // namespace holdfast::broker
