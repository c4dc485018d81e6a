#pragma once
// Live subscriptions: how adapters receive copies of messages as they are published (MQTT
// subscriptions, AMQP receivers on topic addresses, CoAP observers). Durable queues are a
// separate path (QueueStore); a live copy is best-effort towards the subscriber's own session.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "broker/core/ingress.h"
#include "broker/core/message.h"
#include "broker/core/queue_store.h"

namespace holdfast::core {

struct SubscriptionOptions {
  std::uint8_t max_qos = 0;  // MQTT: the granted QoS; others: 0
  bool no_local = false;     // do not deliver messages this subscriber published itself
};

// Copies of a message that subscribers must keep durably (e.g. for an offline persistent MQTT
// session): the broker stores them in the same atomic append as the message's own queues, so
// the publisher is acknowledged only once they are on disk too.
class DurableCopies {
 public:
  struct Copy {
    std::string queue;
    Message message;
    // Io thread, after the append: the copy's sequence number, or 0 if it was not stored.
    std::function<void(Seq)> stored;
  };
  void add(std::string queue, Message message, std::function<void(Seq)> stored) {
    copies_.push_back({std::move(queue), std::move(message), std::move(stored)});
  }
  std::vector<Copy>& copies() { return copies_; }

 private:
  std::vector<Copy> copies_;
};

// Implemented by an adapter's session. Called on the io thread; must not block.
class Subscriber {
 public:
  virtual ~Subscriber() = default;
  // A published message whose address matches one or more of this subscriber's filters:
  // called once per message, with the first matching `filter` and the options of all matching
  // subscriptions combined (the highest max_qos). `message` is only valid during the call.
  // Must not unsubscribe or destroy subscribers synchronously: post that to the loop.
  // A subscriber that must keep its copy durably adds it to `durable`.
  virtual void deliver(const Message& message, const PublishOptions& publish,
                       const std::string& filter, const SubscriptionOptions& options,
                       DurableCopies& durable) = 0;
  // The identity that no_local compares with the publisher's Origin::client_id.
  virtual const std::string& subscriber_id() const = 0;
};

// Implemented by the broker. Called on the io thread only.
class SubscriptionRegistry {
 public:
  virtual ~SubscriptionRegistry() = default;
  // Adds or replaces (same subscriber, same filter) a subscription. `filter` must be valid.
  virtual void subscribe(const std::string& filter, Subscriber* subscriber,
                         SubscriptionOptions options) = 0;
  // Returns false if there was no such subscription.
  virtual bool unsubscribe(const std::string& filter, Subscriber* subscriber) = 0;
  // Removes every subscription of `subscriber` (e.g. when its session ends).
  virtual void unsubscribe_all(Subscriber* subscriber) = 0;
};

}  // namespace holdfast::core
