#pragma once
// Ingress: the one door through which protocol adapters hand messages to the broker.
//
// Adapters (MQTT, AMQP, CoAP) never see the store, the router or the bridge; they translate
// their protocol into a Message, submit it here, and acknowledge the device only when `done`
// reports success. The broker routes the message to its durable queues (and copies it to live
// subscribers) and calls `done` once every queue has it on disk.

#include "broker/core/message.h"
#include "broker/core/queue_store.h"
#include "broker/core/status.h"

namespace holdfast::core {

// How much the sender asked for.
enum class Assurance : std::uint8_t {
  kDurable,     // acknowledge only once durable (MQTT QoS 1/2, AMQP unsettled, CoAP CON)
  kBestEffort,  // store, but the sender does not wait (MQTT QoS 0, AMQP pre-settled, CoAP NON)
};

class Ingress {
 public:
  virtual ~Ingress() = default;

  // Called on the adapter's io thread; never blocks. Takes ownership of `message`.
  // `done` runs exactly once, on the same io thread, after the message is durable in every
  // queue its address routes to (kDurable), or once it was handed to the store
  // (kBestEffort). Errors, each to be mapped to a protocol code by the adapter:
  //   kNotFound          no route for the address and no live subscriber
  //   kPermissionDenied  the origin may not publish to this address
  //   kResourceExhausted a queue or the store is full under `reject`, or the disk is full
  //   kTooLarge          the message exceeds the configured maximum size
  //   kUnavailable       the broker is shutting down
  //   kIoError           the store failed to write
  virtual void submit(Message message, Assurance assurance, Callback<void> done) = 0;
};

}  // namespace holdfast::core
