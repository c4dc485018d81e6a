#pragma once
// Uploads: POST and PUT requests become messages for the Ingress; the answer (2.01 for POST,
// 2.04 for PUT, or the error errors.h maps) is sent once the message is durable (confirmable:
// piggybacked on the ACK when that comes within CoapOptions::piggyback_wait, else a separate
// response) or stored (non-confirmable: the same wait, nobody retransmits). See
// CoapServer::defer().
//
// Operation
//   A duplicate (same message-id from the same endpoint) is answered from the ExchangeCache
//   with the code the first copy got and is not stored again. Checks before the Ingress:
//   a path (4.00), the body size (4.13 with Size1), the device id (4.03 on DTLS when the path
//   names another device).
//
// Concurrency: io thread only; never blocks.

#include <coap3/coap.h>

namespace holdfast::coap {

class CoapServer;

class Uploads {
 public:
  explicit Uploads(CoapServer& server) : server_(server) {}
  // Io thread, from the request handler. `post`: POST (else PUT).
  void handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response, bool post);

 private:
  CoapServer& server_;
};

}  // namespace holdfast::coap
