#pragma once
// HubConnection: one AMQP 1.0 connection to IoT Hub (or holdfast-hubsim) carrying many devices,
// as the Azure C SDK multiplexes them: TLS with SNI and host-name verification, SASL ANONYMOUS,
// one session, a `$cbs` sender/receiver pair, one put-token per device, then one sender link
// per device on amqps://{host}/devices/{id}/messages/events.
//
// Operation
//   connect() resolves the host (blocking: call it on the bridge thread, never the io thread),
//   connects without blocking and drives Proton's connection driver on the bridge's EventLoop.
//   open_device() queues a put-token (ulong message-id; the reply's int status-code decides);
//   on 200 the device's link is attached and, with credit, Listener::on_device_ready() fires.
//   send() transfers one encoded message unsettled; Listener::on_settled() reports the hub's
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

namespace holdfast::bridge {

struct HubConnectionOptions {
  std::string host;  // IoT Hub host name: connected to, verified, named in addresses
  std::uint16_t port = 5671;
  bool tls = true;
  std::string ca_file;  // empty: the system's trust store
  std::string container_id = "holdfast-bridge";
  std::uint32_t idle_timeout_ms = 240'000;
};

// How the hub settled one transfer.
struct HubOutcome {
  bool accepted = false;
  std::string condition;  // for a refusal: e.g. "com.microsoft:device-container-throttled"
  std::string description;
};

class HubConnection {
 public:
  class Listener {
   public:
    virtual ~Listener() = default;
    virtual void on_connected() = 0;
    // The device's token was accepted and its link is open with credit.
    virtual void on_device_ready(const std::string& device) = 0;
    // The hub refused the device's token (status-code) or link (condition).
    virtual void on_device_refused(const std::string& device, const HubOutcome& why) = 0;
    virtual void on_credit(const std::string& device) = 0;
    virtual void on_settled(const std::string& device, std::uint64_t tag,
                            const HubOutcome& outcome) = 0;
    // A cloud-to-device message for the device (its encoded AMQP message); answer with
    // settle_c2d(id, ...). Only for devices opened with receive_c2d.
    virtual void on_c2d(const std::string& device, std::uint64_t id, std::string encoded) = 0;
    // Called once; no other call follows.
    virtual void on_disconnected(const core::Status& why) = 0;
  };

  HubConnection(core::EventLoop& loop, HubConnectionOptions options, Listener& listener);
  ~HubConnection();
  HubConnection(const HubConnection&) = delete;
  HubConnection& operator=(const HubConnection&) = delete;

  // Starts connecting. Errors are reported through on_disconnected (possibly before this
  // returns: the listener must tolerate that).
  void connect();
  // Presents `token` for `device` (again, to renew it); attaches its link the first time, and
  // with `receive_c2d` also a receiver for its cloud-to-device messages.
  void open_device(const std::string& device, const std::string& token, bool receive_c2d = false);
  // How Holdfast dealt with a cloud-to-device message: IoT Hub's complete (accepted), abandon
  // (released: the hub redelivers it) or reject (dead-lettered at the hub). Unknown ids (from
  // before a reconnect) are ignored.
  enum class C2dOutcome : std::uint8_t { kComplete, kAbandon, kReject };
  void settle_c2d(std::uint64_t id, C2dOutcome outcome);
  // Transfers available to the device's link now (0 until on_device_ready).
  int credit(const std::string& device) const;
  // The largest message the hub takes on the device's link (its attach's max-message-size);
  // 0 when unknown or unlimited.
  std::uint64_t max_message_size(const std::string& device) const;
  // Sends one encoded message (header included) unsettled; `tag` comes back in on_settled.
  // Returns false when the device has no link or no credit.
  bool send(const std::string& device, const std::string& encoded, std::uint64_t tag);
  // Closes politely; on_disconnected follows.
  void close();

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
