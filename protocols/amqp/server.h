#pragma once
// AmqpServer: the AMQP 1.0 listener. Accepts TCP connections and runs each through Qpid
// Proton-C's connection driver on the broker's io loop (no Proton threads).
//
// Operation
//   Devices and local consumers speak two dialogues on the same port:
//   - an on-premise broker's: a sender attaches to an address and transfers; a receiver on a
//     queue address competes for the queue's messages (core::ConsumerRegistry), a receiver on
//     any other address gets live copies (core::SubscriptionRegistry, MQTT wildcards allowed);
//   - IoT Hub's: SASL ANONYMOUS / MSSBCBS / PLAIN, a `$cbs` put-token per device, then links to
//     devices/{id}/messages/events (and .../devicebound), see IOTHUB.md.
//   Incoming messages go to the broker's Ingress; an unsettled transfer is settled `accepted`
//   only once the message is durable.
//
// Concurrency: io thread only, except stats() (atomics, any thread).

#include <proton/ssl.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/consumers.h"
#include "broker/core/event_loop.h"
#include "broker/core/ingress.h"
#include "broker/core/subscriptions.h"
#include "protocols/amqp/options.h"

namespace holdfast::amqp {

class Connection;

struct AmqpStats {
  std::atomic<std::uint64_t> connections{0};  // open now
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused_connections{0};
  std::atomic<std::uint64_t> protocol_errors{0};  // connections ended by a transport error
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> refused_messages{0};  // rejected or released back to the sender
  std::atomic<std::uint64_t> dropped_live{0};      // live copies dropped: receiver without credit
  std::atomic<std::uint64_t> cbs_tokens_accepted{0};
  std::atomic<std::uint64_t> cbs_tokens_refused{0};
};

struct AmqpConnectionInfo {
  std::string container_id;
  std::string peer;
  std::int64_t connected_for_ms = 0;
  std::size_t links = 0;
};

class AmqpServer {
 public:
  // `consumers` may be null: receivers on queue addresses are then refused (amqp:not-found).
  AmqpServer(core::EventLoop& loop, core::Ingress& ingress, core::SubscriptionRegistry& registry,
             core::ConsumerRegistry* consumers, AmqpOptions options);
  ~AmqpServer();

  // Binds and listens (with TLS: loads the certificate first). Errors: kInvalidArgument /
  // kIoError naming the address or file and the reason.
  core::Status start();
  void stop_accepting();
  // Closes every connection with amqp:connection:forced ("shutting down").
  void close_all();
  // Drops every connection at once (after close_all() had its chance to say goodbye): links
  // release their consumers and subscriptions now.
  void abort_all();

  std::uint16_t port() const { return port_; }
  const AmqpStats& stats() const { return stats_; }
  std::vector<AmqpConnectionInfo> connections() const;

  // For Connection.
  core::EventLoop& loop() { return loop_; }
  core::Ingress& ingress() { return ingress_; }
  core::SubscriptionRegistry& registry() { return registry_; }
  core::ConsumerRegistry* consumers() { return consumers_; }
  // The TLS settings every connection uses; null for plain TCP.
  pn_ssl_domain_t* ssl_domain() { return ssl_domain_.get(); }
  const AmqpOptions& options() const { return options_; }
  AmqpStats& mutable_stats() { return stats_; }
  void on_closed(Connection& connection);

 private:
  void on_accept();

  core::EventLoop& loop_;
  core::Ingress& ingress_;
  core::SubscriptionRegistry& registry_;
  core::ConsumerRegistry* consumers_;
  AmqpOptions options_;
  AmqpStats stats_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  struct SslDomainDeleter {
    void operator()(pn_ssl_domain_t* d) const;
  };
  std::unique_ptr<pn_ssl_domain_t, SslDomainDeleter> ssl_domain_;
};

}  // namespace holdfast::amqp
