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
//   outcome with its error condition. send_batch() packs several such encodings, each in a
//   data section, into one transfer of message-format 0x80013700 (IoT Hub's batch, as the C
//   SDK sends): it stays within the link's max-message-size and within one frame, and its
//   delivery-tag ('B' + 8 bytes) tells the TransferFormatter on the way out to set the format
//   that Proton 0.37 cannot.
//   TLS is ours (core::TlsSession, client side: SNI, chain and host name verified), under
//   Proton's plain byte stream, so the formatter sees the frames before they are encrypted. Any transport or connection failure ends in one
//   Listener::on_disconnected(); the object is then done (make a new one to reconnect).
//
// Concurrency: bridge thread only (the EventLoop that was passed in).
#include <proton/connection_driver.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "broker/core/event_loop.h"
#include "broker/core/status.h"
#include "broker/core/tls.h"
#include "bridge/hub_connection.h"
#include "protocols/amqp/transfer_format.h"

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
  std::size_t send_batch(const std::string& device,
                         const std::vector<const core::Message*>& messages,
                         std::uint64_t tag) override;
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
  void read_socket();
  // Moves Proton's output through the formatter into out_, then to the socket; false on failure.
  bool write_socket();
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
  bool read_scheduled_ = false;
  pn_connection_driver_t driver_{};
  bool driver_ready_ = false;
  std::unique_ptr<core::TlsSession> tls_;
  amqp::TransferFormatter formatter_;
  std::string out_;             // formatted bytes not yet written
  std::size_t out_written_ = 0;  // of out_
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
