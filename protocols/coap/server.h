#pragma once
// CoapServer: the CoAP listener (RFC 7252 over UDP, or DTLS with pre-shared keys) on libcoap,
// run on the broker's io loop (no libcoap threads).
//
// Operation
//   libcoap owns the socket; its context's epoll descriptor (which also carries libcoap's
//   retransmission timer) sits in our EventLoop, and every readiness runs coap_io_process()
//   without waiting. One "unknown resource" handler serves every path:
//   - POST / PUT: the path is the address (routes apply as to MQTT topics and AMQP addresses),
//     the body the payload byte for byte, Content-Format the content type (uploads.h).
//     The answer (2.01 / 2.04, or an error from errors.h) is a separate response sent once the
//     Ingress reports the message durable: libcoap's async support sends the empty ACK at once
//     and acknowledges retransmissions meanwhile; an ExchangeCache answers duplicates that come
//     later. Block1 uploads are reassembled by libcoap before the handler sees them.
//   - GET on a queue address: the next message, taken or peeked (queue_reads.h); Block2 by
//     libcoap. GET with Observe: live notifications (observers.h).
//   The device id of a message is the PSK identity on DTLS, else the id its path names
//   (devices/{id}/messages/events); on DTLS a path naming another device is refused (4.03).
//
// Concurrency
//   Io thread only (every method, every libcoap callback), except stats() (atomics).
//
// Limitations
//   One socket per listener: a DTLS listener serves DTLS only. Malformed datagrams are counted
//   from libcoap's log line ("discard malformed PDU"), the only report libcoap 4.3 gives.

#include <coap3/coap.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/consumers.h"
#include "broker/core/event_loop.h"
#include "broker/core/ingress.h"
#include "broker/core/subscriptions.h"
#include "protocols/coap/exchange_cache.h"
#include "protocols/coap/handles.h"
#include "protocols/coap/options.h"
#include "protocols/coap/rate_limiter.h"

namespace holdfast::coap {

class Uploads;
class QueueReads;
class Observers;

struct CoapStats {
  std::atomic<std::uint64_t> endpoints{0};          // client endpoints known now
  std::atomic<std::uint64_t> refused_endpoints{0};  // requests refused: max_endpoints reached
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> refused_messages{0};  // uploads answered with an error
  std::atomic<std::uint64_t> duplicates{0};        // retransmissions answered from the cache
  std::atomic<std::uint64_t> malformed{0};         // datagrams libcoap discarded
  std::atomic<std::uint64_t> rate_limited{0};      // requests answered 4.29
  std::atomic<std::uint64_t> messages_out{0};      // GET answers and notifications
  std::atomic<std::uint64_t> observers{0};         // observations now
  std::atomic<std::uint64_t> dropped_live{0};      // notifications not sent (too large)
};

struct CoapEndpointInfo {
  std::string peer;
  std::string device_id;  // the PSK identity on DTLS, else empty
  std::int64_t connected_for_ms = 0;
  std::size_t observations = 0;
};

// A request whose answer comes later (a separate response). The server keeps it until the
// request handler runs again for it; respond() then fills the response.
class Deferred {
 public:
  virtual ~Deferred() = default;
  virtual void respond(coap_resource_t* resource, coap_session_t* session,
                       const coap_pdu_t* request, const coap_string_t* query,
                       coap_pdu_t* response) = 0;
  coap_session_t* session() const { return session_.get(); }
  std::uint64_t id() const { return id_; }

 private:
  friend class CoapServer;
  SessionRef session_;
  std::string token_;
  std::uint64_t id_ = 0;
  bool ready_ = false;
};

class CoapServer {
 public:
  // `consumers` may be null: GETs on queues are then answered 4.04.
  CoapServer(core::EventLoop& loop, core::Ingress& ingress, core::SubscriptionRegistry& registry,
             core::ConsumerRegistry* consumers, CoapOptions options);
  ~CoapServer();
  CoapServer(const CoapServer&) = delete;
  CoapServer& operator=(const CoapServer&) = delete;

  // Io thread, before the loop runs or on it. Binds the UDP (or DTLS) endpoint. Errors:
  // kInvalidArgument / kIoError naming the address and the reason; kUnsupported without DTLS.
  core::Status start();
  // Io thread. Stops reading datagrams: nothing new is received or answered.
  void stop_accepting();
  // Io thread. Ends every observation and waiting GET, releasing subscriptions and queue
  // consumers (their unsettled deliveries go back to the queue) while the broker is there.
  void close_all();

  std::uint16_t port() const { return options_.port; }
  const CoapOptions& options() const { return options_; }
  const CoapStats& stats() const { return stats_; }
  // Io thread.
  std::vector<CoapEndpointInfo> endpoints() const;

  // For the request handlers (io thread).
  core::EventLoop& loop() { return loop_; }
  core::Ingress& ingress() { return ingress_; }
  core::SubscriptionRegistry& registry() { return registry_; }
  core::ConsumerRegistry* consumers() { return consumers_; }
  CoapStats& mutable_stats() { return stats_; }
  ExchangeCache& exchanges() { return exchanges_; }
  // The device a request from `session` speaks for: the PSK identity on DTLS, else empty.
  std::string psk_identity(const coap_session_t* session) const;
  // Registers `deferred` as the separate response to `request` (libcoap sends the empty ACK
  // when the handler returns) and returns its id; 0 if libcoap refused: answer at once then.
  std::uint64_t defer(coap_session_t* session, const coap_pdu_t* request,
                      std::unique_ptr<Deferred> deferred);
  // The deferred request `id`, or null once it was answered or dropped.
  Deferred* find(std::uint64_t id);
  // The answer of `id` is ready: the request handler runs again for it soon (next loop turn)
  // and calls respond(). Does nothing for an id already answered or dropped.
  void ready(std::uint64_t id);
  // Whether this server still exists, for callbacks that may outlive it.
  std::weak_ptr<bool> alive() const { return alive_; }

 private:
  static void on_request(coap_resource_t* resource, coap_session_t* session,
                         const coap_pdu_t* request, const coap_string_t* query,
                         coap_pdu_t* response);
  static int on_event(coap_session_t* session, coap_event_t event);
  static void on_nack(coap_session_t* session, const coap_pdu_t* sent, coap_nack_reason_t reason,
                      coap_mid_t mid);
  static const coap_bin_const_t* on_psk_identity(coap_bin_const_t* identity,
                                                 coap_session_t* session, void* arg);
  void handle(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
              const coap_string_t* query, coap_pdu_t* response);
  void process();

  core::EventLoop& loop_;
  core::Ingress& ingress_;
  core::SubscriptionRegistry& registry_;
  core::ConsumerRegistry* consumers_;
  CoapOptions options_;
  CoapStats stats_;
  ExchangeCache exchanges_;
  RateLimiter limiter_;
  ContextPtr context_;
  int fd_ = -1;
  struct Endpoint {
    std::chrono::steady_clock::time_point since;
    bool admitted = true;
  };
  std::unordered_map<coap_session_t*, Endpoint> endpoints_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Deferred>> deferred_;
  std::uint64_t next_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<Uploads> uploads_;
  std::unique_ptr<QueueReads> reads_;
  std::unique_ptr<Observers> observers_;
  coap_bin_const_t psk_scratch_{};  // the key handed to libcoap, which copies it at once
};

}  // namespace holdfast::coap
