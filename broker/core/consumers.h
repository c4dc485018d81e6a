#pragma once
// Queue consumers: how adapters serve local consumers from durable queues (AMQP receiver links
// on a queue address, CoAP GET on a queue path) with competing-consumer semantics.
//
// Operation
//   Every consumer attached to a queue competes for its messages: each message is handed to
//   one consumer at a time, in queue order (redeliveries first), as far as the consumers'
//   credit allows. A delivery stays in the queue until its consumer settles it:
//     accepted  -> consumed (the queue's local-consumer cursor moves past it once every
//                  earlier delivery is settled too)
//     released  -> handed out again, delivery count unchanged
//     modified  -> handed out again, delivery count + 1
//     rejected  -> moved to the queue's dead-letter queue with the given reason, then consumed
//   A consumer that detaches with unsettled deliveries gives them back (delivery count + 1):
//   they go to another consumer, or to the next one that attaches, or after a restart to anyone.
//
// Concurrency
//   All calls on the io thread that owns the broker's event loop; none blocks. Callbacks into
//   a QueueConsumer happen on the same thread, never from inside attach()/wake()/settle().
#include <cstddef>
#include <cstdint>
#include <string>

#include "broker/core/message.h"
#include "broker/core/queue_store.h"
#include "broker/core/status.h"

namespace holdfast::core {

// One message handed to a queue consumer.
struct QueueDelivery {
  std::string queue;
  Seq seq = 0;
  std::uint32_t delivery_count = 0;  // earlier failed deliveries (0 on the first)
  Message message;
};

enum class Outcome : std::uint8_t { kAccepted, kReleased, kModified, kRejected };

// Implemented by an adapter (an AMQP sender link, a CoAP GET). Io thread only.
class QueueConsumer {
 public:
  virtual ~QueueConsumer() = default;
  // How many more deliveries this consumer can take now (e.g. AMQP link credit).
  virtual std::size_t credit() const = 0;
  // One delivery; the consumer owns it and must settle it (or detach). Must not call back into
  // the ConsumerRegistry synchronously for this queue except settle().
  virtual void deliver(QueueDelivery delivery) = 0;
};

// Implemented by the broker. Io thread only.
class ConsumerRegistry {
 public:
  virtual ~ConsumerRegistry() = default;
  // Whether `address` names a durable queue (a name some route stores into, or a queue that
  // exists), rather than a topic served by live subscriptions.
  virtual bool is_queue(const std::string& address) const = 0;
  // Starts serving `consumer` from `queue`. Errors: kInvalidArgument (bad queue name),
  // kAlreadyExists (this consumer is attached already).
  virtual Status attach(const std::string& queue, QueueConsumer* consumer) = 0;
  // The consumer's credit grew: deliveries resume (asynchronously).
  virtual void wake(QueueConsumer* consumer) = 0;
  // Settles one delivery of this consumer. Unknown (queue, seq) pairs are ignored.
  virtual void settle(QueueConsumer* consumer, Seq seq, Outcome outcome,
                      const std::string& reason = {}) = 0;
  // Stops serving `consumer`; its unsettled deliveries go back to the queue. No call reaches
  // the consumer after this returns.
  virtual void detach(QueueConsumer* consumer) = 0;
};

}  // namespace holdfast::core
