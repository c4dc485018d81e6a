#pragma once
// Session: the MQTT session state of one client id, which outlives its network connection when
// the client asked for a persistent session (clean session 0): subscriptions, QoS 1/2 messages
// in flight to the client or queued for it, and the packet ids of QoS 2 publishes received but
// not yet released.
//
// Concurrency: io thread only.
//
// Durability: with a Persistence, a persistent session's subscriptions and its QoS 1/2
// messages (queued or in flight) are also kept in the store, so they survive a restart; each
// message is consumed from the store once the client acknowledged it and every earlier one.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "broker/core/delivery_watch.h"
#include "broker/core/fifo.h"
#include "broker/core/subscriptions.h"
#include "protocols/mqtt/packet.h"
#include "protocols/mqtt/server/options.h"

namespace holdfast::mqtt {

class Connection;
class Persistence;
struct ServerStats;

class Session final : public core::Subscriber {
 public:
  Session(std::string client_id, const ServerOptions& options, ServerStats& stats,
          Persistence* persistence);
  ~Session() override;

  // core::Subscriber: a live copy of a published message.
  void deliver(const core::Message& message, const core::PublishOptions& publish,
               const std::string& filter, const core::SubscriptionOptions& options,
               core::DurableCopies& durable) override;
  const std::string& subscriber_id() const override { return client_id_; }

  // Sends `message` with `qos` (already the effective QoS), or queues it. `retained` marks a
  // retained message delivered on subscribe. A persistent session keeps QoS 1/2 messages in
  // the store: through `durable` (stored with the publish, before its PUBACK) when given,
  // else on its own.
  // `claim`: the publisher watches this delivery (see delivery_watch.h): settled accepted at
  // PUBACK (rejected by an MQTT 5 failure reason code), or once stored for a persistent session
  // (the session delivers it from the store); dropped, it counts as released.
  void send_message(const core::Message& message, QoS qos, bool retained,
                    core::DurableCopies* durable = nullptr,
                    core::DeliveryClaim claim = core::DeliveryClaim());
  // A message read back from the store at start-up (already stored as `seq`).
  void restore_message(const core::Message& message, QoS qos, core::Seq seq);
  // Writes the subscriptions to the store (persistent sessions only).
  void save_subscriptions();

  // The connection now serving this session (nullptr: offline). On attach, messages in flight
  // are sent again with DUP and queued ones are sent.
  void attach(Connection* connection);
  Connection* connection() const { return connection_; }

  // Acknowledgements from the client for our outgoing publishes.
  void on_puback(std::uint16_t id, ReasonCode reason = ReasonCode::kSuccess);
  void on_pubrec(std::uint16_t id);
  void on_pubcomp(std::uint16_t id);

  const std::string& client_id() const { return client_id_; }
  bool persistent = false;
  std::map<std::string, core::SubscriptionOptions> subscriptions;
  // QoS 2 publishes received (and stored) whose PUBREL has not arrived: a DUP of one of them
  // must not be stored again.
  std::set<std::uint16_t> incoming_qos2;
  ProtocolVersion version = ProtocolVersion::kV311;

 private:
  static constexpr std::uint64_t kNoTicket = ~std::uint64_t{0};
  struct Outgoing {
    std::string topic;
    std::string payload;
    core::Properties properties;
    QoS qos = QoS::kAtMostOnce;
    bool retained = false;
    bool released = false;             // QoS 2: PUBREC received, PUBREL sent
    std::uint64_t ticket = kNoTicket;  // its entry in tickets_, when stored
    core::DeliveryClaim claim;         // the publisher's watch, until the client answers
  };
  // The store's copy of one message of this session, in the order they were stored.
  struct Ticket {
    core::Seq seq = 0;     // 0 until the append completes
    bool settled = false;  // the append failed or completed (seq known)
    bool done = false;     // acknowledged by the client, or dropped
  };
  void transmit(std::uint16_t id, const Outgoing& out, bool dup);
  void pump();
  void queue(Outgoing out);
  std::uint16_t next_packet_id();
  void finish(std::uint64_t ticket);
  void commit_done();

  std::string client_id_;
  const ServerOptions& options_;
  ServerStats& stats_;
  Connection* connection_ = nullptr;
  std::map<std::uint16_t, Outgoing> inflight_;
  core::Fifo<Outgoing> queued_;
  std::uint16_t last_packet_id_ = 0;
  Persistence* persistence_;
  core::Fifo<Ticket> tickets_;
  std::uint64_t tickets_base_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace holdfast::mqtt
