#pragma once
// Connection: one AMQP client's TCP connection, run through Proton's connection driver on the
// io loop: bytes read go into the driver, its events are handled here (connection, sessions,
// links, deliveries), the bytes it produces are written out, and its timer (idle time-out,
// heartbeats) is re-armed each turn.
//
// Operation
//   Links are objects of their own (links.h), kept in a map by their pn_link_t and dropped as
//   soon as either side closes them (after which Proton frees the link and its deliveries).
//   Work finished asynchronously (a durable append, a queue delivery) touches Proton only
//   through a live Link and then calls schedule_pump(), which runs the driver once more at the
//   end of the loop turn.
//   Identity: SASL PLAIN with an IoT Hub SAS token, or a `$cbs` put-token, authorizes one
//   device on this connection until its token expires (authorized()).
//
// Concurrency: io thread only. Owned by AmqpServer through a shared_ptr; asynchronous work
// holds weak pointers to Links and does nothing once they are gone.

#include <proton/connection_driver.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "broker/core/event_loop.h"
#include "broker/core/status.h"

namespace holdfast::amqp {

class AmqpServer;
class Link;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(AmqpServer& server, int fd, std::string peer);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts watching the socket and the open time-out.
  void start();
  // Closes the connection with an error condition (sent to the peer when possible).
  void close(std::string_view condition, const std::string& description);
  // Drops the connection now (socket closed, links released) without further protocol.
  void abort() { finish(); }
  // Runs the driver once more at the end of this loop turn.
  void schedule_pump();

  AmqpServer& server() { return server_; }
  const std::string& peer() const { return peer_; }
  const std::string& container_id() const { return container_id_; }
  std::size_t link_count() const { return links_.size(); }
  std::chrono::steady_clock::time_point connected_at() const { return connected_at_; }

  // Identity. A device is authorized on this connection by a valid token until it expires;
  // with require_device_auth the connection is closed then unless a new token came.
  bool authorized(const std::string& device_id) const;
  void authorize(const std::string& device_id, std::int64_t expiry_s);
  // SASL PLAIN: "{id}@sas.{hub}" with a SAS token as password authorizes that device; any other
  // user is accepted (Holdfast has no user database). Returns false to fail the SASL exchange.
  bool sasl_plain(std::string_view user, std::string_view password);
  // Checks a SAS token presented for `audience` ("{host}/devices/{id}"): verified with the
  // device keys when the gateway has them, else (token passthrough) only its expiry and that
  // it names that device. On success the device is authorized and the token kept for the
  // bridge; the device id is returned. Errors: kUnauthenticated, kPermissionDenied,
  // kInvalidArgument, each with the reason.
  core::Result<std::string> accept_token(std::string_view audience, const std::string& token);

  // Sends a `$cbs` reply on the client's receiver link from `$cbs` (the one whose target is
  // `reply_to` when several). Replies wait for credit. No reply link: dropped and logged.
  void send_cbs_reply(const std::string& reply_to, std::string encoded);
  // Closes a link with an error condition (the link's object is dropped right away).
  void close_link(Link& link, std::string_view condition, const std::string& description);

 private:
  void on_events(std::uint32_t events);
  void read_socket();
  void pump();
  void write_socket();
  void dispatch(struct pn_event_t* event);
  void open_link(struct pn_link_t* link);
  void drop_link(struct pn_link_t* link);
  void drop_links_of(struct pn_session_t* session);
  void arm_tick();
  void finish();

  AmqpServer& server_;
  int fd_;
  std::string peer_;
  pn_connection_driver_t driver_{};
  bool driver_ready_ = false;
  bool opened_ = false;
  bool reading_ = true;
  bool want_write_ = false;
  bool pump_scheduled_ = false;
  bool finished_ = false;
  std::string container_id_;
  std::size_t sessions_ = 0;
  std::chrono::steady_clock::time_point connected_at_ = std::chrono::steady_clock::now();
  core::EventLoop::TimerId open_timer_ = 0;
  core::EventLoop::TimerId tick_timer_ = 0;
  std::int64_t tick_due_ = 0;
  std::unordered_map<struct pn_link_t*, std::shared_ptr<Link>> links_;
  std::map<std::string, std::int64_t> authorized_;  // device id -> token expiry (epoch s)
};

}  // namespace holdfast::amqp
