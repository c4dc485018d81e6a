#pragma once
// QueueReads: GET on a queue address answers with the queue's next message (2.05, the
// message's Content-Format, its sequence number as ETag; Block2 by libcoap when it is larger
// than one datagram) or 4.04 when none came within the wait.
//
// Operation
//   Each GET attaches a transient competing consumer (credit 1) to the queue through the
//   ConsumerRegistry. GET takes the message: it is settled `accepted` as it is handed to
//   libcoap. GET ?peek (or ?mode=peek) settles it `released`: it stays first in the queue.
//   ?wait=MS sets how long an empty queue is waited on (default and cap in CoapOptions).
//
// Concurrency: io thread only; never blocks.
//
// Limitations
//   A take is at most once: a response lost on the way (a separate CON response that is never
//   acknowledged) loses the message. Consumers that need more use peek, or AMQP.

#include <coap3/coap.h>

#include <cstdint>
#include <string>
#include <unordered_map>

namespace holdfast::coap {

class CoapServer;
class QueueRead;

class QueueReads {
 public:
  explicit QueueReads(CoapServer& server) : server_(server) {}
  // Io thread, from the request handler.
  void handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response);

 private:
  CoapServer& server_;
};

}  // namespace holdfast::coap
