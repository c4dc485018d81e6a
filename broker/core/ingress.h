#pragma once
// Ingress: the one door through which protocol adapters hand messages to the broker.
//
// Adapters (MQTT, AMQP, CoAP) never see the store, the router or the bridge; they translate
// their protocol into a Message, submit it here, and acknowledge the device only when `done`
// reports success. The broker routes the message to its durable queues (and copies it to live
// subscribers) and calls `done` once every queue has it on disk.

#include <memory>

#include "broker/core/delivery_watch.h"
#include "broker/core/message.h"
#include "broker/core/queue_store.h"
#include "broker/core/status.h"

namespace holdfast::core {

// How much the sender asked for.
enum class Assurance : std::uint8_t {
  kDurable,     // acknowledge only once durable (MQTT QoS 1/2, AMQP unsettled, CoAP CON)
  kBestEffort,  // store, but the sender does not wait (MQTT QoS 0, AMQP pre-settled, CoAP NON)
};

// What the publisher asked for, beyond the message itself.
struct PublishOptions {
  Assurance assurance = Assurance::kDurable;
  std::uint8_t qos = 1;  // MQTT QoS of the publish (AMQP unsettled = 1, settled = 0; CoAP CON = 1)
  bool retain = false;   // MQTT retain flag
  // Wants to know how live receivers settle the message (see delivery_watch.h); null: nobody.
  std::shared_ptr<DeliveryWatch> watch;
};

class Ingress {
 public:
  virtual ~Ingress() = default;

  // Called on the adapter's io thread; never blocks. Takes ownership of `message`.
  // Live subscribers get their copy before this returns. `done` runs exactly once, on the
  // same io thread, after the message is durable in every queue its address routes to (for
  // both assurances: kBestEffort senders just do not wait). It may run before submit()
  // returns when no queue is involved. Errors, each mapped to a protocol code by the adapter:
  //   kNotFound          no route for the address and no live subscriber
  //   kPermissionDenied  the origin may not publish to this address
  //   kResourceExhausted a queue or the store is full under `reject`, or the disk is full
  //   kTooLarge          the message exceeds the configured maximum size
  //   kUnavailable       the broker is shutting down
  //   kIoError           the store failed to write
  virtual void submit(Message message, PublishOptions options, Callback<void> done) = 0;
};

}  // namespace holdfast::core
