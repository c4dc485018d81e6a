#pragma once
// MqttServer: the MQTT 3.1 / 3.1.1 / 5 listener. Accepts connections, owns the sessions (so
// persistent sessions outlive connections) and the retained messages, and hands published
// messages to the broker's Ingress.
//
// Concurrency: io thread only, except stats() (atomics, any thread).

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/event_loop.h"
#include "broker/core/ingress.h"
#include "broker/core/subscriptions.h"
#include "protocols/mqtt/server/connection.h"
#include "protocols/mqtt/server/options.h"
#include "protocols/mqtt/server/persistence.h"
#include "protocols/mqtt/server/session.h"

namespace holdfast::mqtt {

struct ServerStats {
  std::atomic<std::uint64_t> connections{0};          // open now
  std::atomic<std::uint64_t> accepted{0};             // ever
  std::atomic<std::uint64_t> refused_connections{0};  // over max_connections
  std::atomic<std::uint64_t> protocol_errors{0};      // connections closed for bad input
  std::atomic<std::uint64_t> messages_in{0};
  std::atomic<std::uint64_t> messages_out{0};
  std::atomic<std::uint64_t> dropped_out{0};  // deliveries dropped: slow or offline subscriber
  std::atomic<std::uint64_t> refused_publishes{0};  // the broker refused (store full, ...)
};

struct ConnectionInfo {
  std::string client_id;
  std::string peer;
  std::string protocol;  // "mqtt/3.1.1"
  std::int64_t connected_for_ms = 0;
  std::size_t subscriptions = 0;
};

class MqttServer {
 public:
  // `store` (optional) keeps retained messages and persistent sessions across restarts.
  MqttServer(core::EventLoop& loop, core::Ingress& ingress, core::SubscriptionRegistry& registry,
             ServerOptions options, core::QueueStore* store = nullptr);
  ~MqttServer();

  // Main thread, before the loop runs: reads retained messages and persistent sessions back
  // from the store and re-subscribes those sessions. Errors: the store's.
  core::Status restore();

  // Binds and listens on options().bind:port (TLS with options().tls). Errors: kIoError naming
  // the address and the reason.
  core::Status start();
  // Listens on one more address (one server for all MQTT listeners: a client's session is the
  // same whichever port it comes back on). `tls` null: plain TCP.
  core::Status listen(const std::string& bind, std::uint16_t port,
                      std::shared_ptr<core::TlsContext> tls);
  // Stops accepting; existing connections stay.
  void stop_accepting();
  // Closes every connection (wills are not published: this is an orderly shutdown).
  void close_all();

  std::uint16_t port() const { return port_; }  // the first listener's
  std::uint16_t tls_port() const;                // the first TLS listener's; 0: none
  const ServerStats& stats() const { return stats_; }
  std::vector<ConnectionInfo> connections() const;

  // For Connection and Session.
  core::EventLoop& loop() { return loop_; }
  core::Ingress& ingress() { return ingress_; }
  core::SubscriptionRegistry& registry() { return registry_; }
  const ServerOptions& options() const { return options_; }
  ServerStats& mutable_stats() { return stats_; }
  // Finds or creates the session for `client_id`; closes a connection that holds it.
  // `clean` discards an existing session first. Sets `present` when an old one was kept.
  Session& open_session(const std::string& client_id, bool clean, bool& present);
  // The connection ended: a non-persistent session is deleted.
  void release_session(Session& session);
  Persistence* persistence() { return persistence_.get(); }
  void on_closed(Connection& connection);
  // Retained messages: an empty payload clears the topic.
  void retain(const core::Message& message, QoS qos);
  void send_retained(Session& session, const std::string& filter, QoS max_qos);
  std::string assign_client_id();

 private:
  struct Endpoint {
    int fd;
    std::uint16_t port;
    std::shared_ptr<core::TlsContext> tls;
  };
  void on_accept(Endpoint& endpoint);

  core::EventLoop& loop_;
  core::Ingress& ingress_;
  core::SubscriptionRegistry& registry_;
  ServerOptions options_;
  ServerStats stats_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::uint16_t port_ = 0;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  std::unordered_map<std::string, std::unique_ptr<Session>> sessions_;
  struct Retained {
    core::Message message;
    QoS qos;
  };
  std::map<std::string, Retained> retained_;
  std::uint64_t assigned_ids_ = 0;
  std::unique_ptr<Persistence> persistence_;
};

}  // namespace holdfast::mqtt
