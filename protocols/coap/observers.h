#pragma once
// Observers: GET with Observe (RFC 7641) registers for notifications of new messages.
//
// Operation
//   Observe=0 registers (Observe=1, or a new GET on the same token, ends it). The first answer
//   is 2.05 with an Observe number and no payload: a message stream has no current state.
//   - On a queue address (ConsumerRegistry::is_queue) the observer is a competing consumer:
//     each notification takes the next message (settled `accepted` as it is sent), so
//     observers of a queue share its messages with other consumers.
//   - On any other address (MQTT wildcards allowed as whole segments) it is a live
//     subscription: every matching message published from now on, from any protocol.
//   Notifications are non-confirmable, except every 16th, which is confirmable: an endpoint
//   that answers it with RST, or never, loses its observations (and so do endpoints libcoap
//   forgets after the session timeout).
//
// Concurrency: io thread only; never blocks.
//
// Limitations
//   A notification must fit one datagram (libcoap's PDU size, about 1 KiB of payload): larger
//   messages are not notified (counted in dropped_live; a queue observer leaves them in the
//   queue for a GET, which uses Block2).

#include <coap3/coap.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>

namespace holdfast::coap {

class CoapServer;
class Observation;

class Observers {
 public:
  explicit Observers(CoapServer& server);
  ~Observers();
  // Io thread, from the request handler, for a GET carrying the Observe option `observe`.
  void handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response,
              std::uint32_t observe);
  // Io thread. The endpoint is gone, or rejected (RST) or never acknowledged the CON `sent`.
  void session_gone(coap_session_t* session);
  void refused(coap_session_t* session, const coap_pdu_t* sent);
  // Io thread. Ends every observation (shutdown).
  void close_all();
  std::size_t count(coap_session_t* session) const;

 private:
  using Key = std::pair<coap_session_t*, std::string>;  // session, token
  void end(std::map<Key, std::unique_ptr<Observation>>::iterator it);

  CoapServer& server_;
  std::map<Key, std::unique_ptr<Observation>> observations_;
};

}  // namespace holdfast::coap
