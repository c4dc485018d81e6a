#pragma once
// CoapServer: the CoAP listener (RFC 7252 over UDP, or DTLS with pre-shared keys and/or
// certificates) on libcoap,
// run on the broker's io loop (no libcoap threads).
//
// Operation
//   libcoap owns the sockets; its context's epoll descriptor (which also carries libcoap's
//   retransmission timer) sits in our EventLoop, and every readiness hands libcoap's ready
//   events to it in batches (io.h). One "unknown resource" handler serves every path:
//   - POST / PUT: the path is the address (routes apply as to MQTT topics and AMQP addresses),
//     the body the payload byte for byte, Content-Format the content type (uploads.h).
//     The answer (2.01 / 2.04, or an error from errors.h) goes out once the Ingress reports the
//     message durable. Block1 uploads are reassembled by libcoap before the handler sees them.
//   - GET on a queue address: the next message, taken or peeked (queue_reads.h); Block2 by
//     libcoap. GET with Observe: live notifications (observers.h).
//   Answers that wait (uploads, GETs) are deferred requests (defer()), kept here rather than
//   in libcoap's async state: the answer is piggybacked on the ACK when it is ready within
//   CoapOptions::piggyback_wait (one datagram each way, the usual case: a group commit takes
//   milliseconds), otherwise an empty ACK goes out at that deadline and the answer follows as a
//   separate confirmable response. Retransmissions of a pending request are absorbed (an empty
//   ACK if confirmable); later ones are answered from the ExchangeCache.
//   The device id of a message is the identity DTLS proved (a PSK identity, or the name of a
//   client certificate when client_ca_file is set: dtls.h), else the id its path names
//   (devices/{id}/messages/events); a proven device naming another in its path gets 4.03.
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
#include <deque>
#include <memory>
#include <optional>
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

class CoapIo;
class Dtls;
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
  std::atomic<std::uint64_t> answers_not_sent{0};  // batched answers the kernel refused
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

// A request whose answer comes later (CoapServer::defer). The server keeps it until ready().
class Deferred {
 public:
  virtual ~Deferred() = default;
  // Io thread, once, from ready(): fills `response` (code, options, body). Its type, message-id
  // and token are set. `request` is the copy of the request's options kept by defer() (no
  // body), null unless asked for; `query` its Uri-Query (null without request).
  virtual void respond(coap_resource_t* resource, coap_session_t* session,
                       const coap_pdu_t* request, const coap_string_t* query,
                       coap_pdu_t* response) = 0;
  // True when the answer is complete once respond() filled it (no Block2, no libcoap state
  // afterwards): it may leave in CoapIo's batch instead of through coap_send().
  virtual bool plain_answer() const { return false; }
  coap_session_t* session() const { return session_.get(); }
  std::uint64_t id() const { return id_; }
  std::uint16_t mid() const { return mid_; }

 private:
  friend class CoapServer;
  SessionRef session_;
  PduPtr request_;
  std::string token_;
  std::optional<std::string> block1_;  // the request's Block1 option, echoed in the answer
  std::uint64_t id_ = 0;
  std::uint16_t mid_ = 0;
  bool confirmable_ = false;
  bool acknowledged_ = false;  // an empty ACK went out: the answer is a separate response
  std::chrono::steady_clock::time_point ack_by_;
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
  // The device a request from `session` speaks for: the PSK identity or the client
  // certificate's name on DTLS (dtls.h), else empty.
  std::string device_identity(const coap_session_t* session) const;
  // Registers `deferred` as the answer to `request` and returns its id. libcoap sends nothing
  // for the request now (`response` is suppressed); ready(id) sends the answer: piggybacked on
  // the ACK of a confirmable request when it comes within options().piggyback_wait, else as a
  // separate confirmable response after an empty ACK sent at that deadline (or at once when
  // the client retransmits meanwhile). Retransmissions of a pending request reach no handler.
  // `keep_request`: keep a copy of the request's options for Deferred::respond().
  std::uint64_t defer(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response,
                      std::unique_ptr<Deferred> deferred, bool keep_request = false);
  // The deferred request `id`, or null once it was answered or dropped.
  Deferred* find(std::uint64_t id);
  // The answer of `id` is ready: Deferred::respond() fills it and it is sent now. The Deferred
  // is destroyed on a later loop turn (it may be calling). No-op for an id already answered.
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
  void handle(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
              const coap_string_t* query, coap_pdu_t* response);
  bool retransmitted(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response);
  void send_empty_ack(Deferred& d);
  void acknowledge_late();
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
  std::unique_ptr<CoapIo> io_;
  bool flush_posted_ = false;  // a task will send io_'s queued answers
  struct Endpoint {
    std::chrono::steady_clock::time_point since;
    bool admitted = true;
  };
  std::unordered_map<coap_session_t*, Endpoint> endpoints_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Deferred>> deferred_;
  struct ExchangeKey {
    coap_session_t* session;
    std::uint16_t mid;
    bool operator==(const ExchangeKey&) const = default;
  };
  struct ExchangeHash {
    std::size_t operator()(const ExchangeKey& k) const {
      return std::hash<const void*>()(k.session) ^ (std::size_t{k.mid} * 0x9E3779B97F4A7C15ULL);
    }
  };
  std::unordered_map<ExchangeKey, std::uint64_t, ExchangeHash> pending_;  // -> deferred id
  std::deque<std::uint64_t> unacknowledged_;  // confirmable deferred ids, by ack_by_
  core::EventLoop::TimerId ack_timer_ = 0;
  std::vector<std::unique_ptr<Deferred>> answered_;  // destroyed on the next loop turn
  std::uint64_t next_id_ = 1;
  coap_resource_t* resource_ = nullptr;  // the "unknown resource" serving every path
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  std::unique_ptr<Dtls> dtls_;
  std::unique_ptr<Uploads> uploads_;
  std::unique_ptr<QueueReads> reads_;
  std::unique_ptr<Observers> observers_;
};

}  // namespace holdfast::coap
