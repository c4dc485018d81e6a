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
//   The answer rides on the ACK when it comes within CoapOptions::piggyback_wait (so Debian's
//   libcoap 4.3.1 client can fetch a large body block-wise), else it is a separate response.
//   The answer, body included, is kept in the ExchangeCache: a retransmitted GET (same
//   message-id) gets the same answer again and takes nothing more. A Block2 request for a
//   later block that libcoap no longer holds is 4.08, never served from another message.
//
// Concurrency: io thread only; never blocks.
//
// Limitations
//   A take is at most once: a response lost on the way for good (never acknowledged, or its
//   body dropped from the ExchangeCache's byte bound before a retransmission: 5.03) loses the
//   message. Consumers that need more use peek, or AMQP.

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
  void handle(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
              const coap_string_t* query, coap_pdu_t* response);

 private:
  CoapServer& server_;
};

}  // namespace holdfast::coap
