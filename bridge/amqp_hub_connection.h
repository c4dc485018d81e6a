#pragma once
// AmqpHubConnection: the HubConnection (hub_connection.h) over one AMQP 1.0 connection to IoT Hub (or holdfast-hubsim) carrying many devices,
// as the Azure C SDK multiplexes them: TLS with SNI and host-name verification, SASL ANONYMOUS,
// one session, a `$cbs` sender/receiver pair, one put-token per device, then one sender link
// per device on amqps://{host}/devices/{id}/messages/events.
//
// Operation
//   connect() resolves the host (blocking: call it on the bridge thread, never the io thread),
//   connects without blocking and drives Proton's connection driver on the bridge's EventLoop.
//   open_device() queues a put-token (ulong message-id; the reply's int status-code decides);
//   on 200 the device's link is attached and, with credit, Listener::on_device_ready() fires.
//   send() encodes the message (the bare message as the device sent it, or the AMQP shape of an
//   MQTT/CoAP one) and transfers it unsettled; Listener::on_settled() reports the hub's
//   outcome with its error condition. Any transport or connection failure ends in one
//   Listener::on_disconnected(); the object is then done (make a new one to reconnect).
//
// Concurrency: bridge thread only (the EventLoop that was passed in).
#include <proton/connection_driver.h>
#include <proton/ssl.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "broker/core/event_loop.h"
#include "broker/core/status.h"
#include "bridge/hub_connection.h"

namespace holdfast::bridge {

class AmqpHubConnection final : public HubConnection {
 public:
  AmqpHubConnection(core::EventLoop& loop, HubConnectionOptions options, Listener& listener);
  ~AmqpHubConnection() override;
  AmqpHubConnection(const AmqpHubConnection&) = delete;
  AmqpHubConnection& operator=(const AmqpHubConnection&) = delete;

  // HubConnection
  void connect() override;
  void open_device(const std::string& device, const std::string& token,
                   bool receive_c2d = false) override;
  // Complete = accepted, abandon = released, reject = rejected.
  void settle_c2d(std::uint64_t id, C2dOutcome outcome) override;
  int credit(const std::string& device) const override;
  // kTooLarge when the encoded message exceeds the max-message-size of the device's link.
  SendResult send(const std::string& device, const core::Message& message, std::uint64_t tag,
                  std::string& why) override;
  void close() override;

 private:
  struct Device {
    std::string id;
    struct pn_link_t* link = nullptr;
    struct pn_link_t* c2d = nullptr;
    bool ready = false;
    std::map<struct pn_delivery_t*, std::uint64_t> unsettled;
  };

  void on_events(std::uint32_t events);
  void schedule_pump();
  void pump();
  void dispatch(struct pn_event_t* e);
  void send_put_tokens();
  void on_cbs_reply(struct pn_delivery_t* d);
  void fail(const core::Status& why);
  void arm_tick();
  Device* device_of(struct pn_link_t* link);
  Device* device_of_c2d(struct pn_link_t* link);

  core::EventLoop& loop_;
  HubConnectionOptions options_;
  Listener& listener_;
  int fd_ = -1;
  bool connecting_ = true;
  bool failed_ = false;
  bool want_write_ = false;
  bool pump_scheduled_ = false;
  pn_connection_driver_t driver_{};
  bool driver_ready_ = false;
  pn_ssl_domain_t* ssl_domain_ = nullptr;
  struct pn_session_t* session_ = nullptr;
  struct pn_link_t* cbs_out_ = nullptr;
  struct pn_link_t* cbs_in_ = nullptr;
  std::uint64_t next_cbs_id_ = 1;
  std::map<std::uint64_t, std::string> cbs_pending_;   // message-id -> device
  std::map<std::string, std::string> tokens_to_send_;  // device -> token
  std::map<std::string, bool> wants_c2d_;              // device -> receive_c2d
  std::map<std::uint64_t, struct pn_delivery_t*> c2d_unsettled_;
  std::uint64_t next_c2d_id_ = 1;
  std::map<std::string, std::unique_ptr<Device>> devices_;
  // Every event names a link: finding its device must not scan up to 1,000 devices.
  std::unordered_map<struct pn_link_t*, Device*> by_link_;
  core::EventLoop::TimerId tick_timer_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace holdfast::bridge
