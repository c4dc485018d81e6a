#pragma once
// HubConnection: what the Forwarder needs from IoT Hub, whatever the protocol: present a device's
// token, send its messages with a window of unacknowledged ones, learn each one's outcome, and
// receive its cloud-to-device messages. Two implementations:
//   AmqpHubConnection (amqp_hub_connection.h): one AMQP 1.0 connection for every device, a CBS
//     put-token per device, a sender link per device.
//   MqttHubConnection (mqtt_hub_connection.h): one MQTT connection per device (IoT Hub's MQTT
//     has no multiplexing), the SAS token as password, QoS 1 publishes.
// make_hub_connection() picks one by HubConnectionOptions::protocol.
//
// Concurrency: bridge thread only (the EventLoop passed in); listener calls come on it too.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "broker/core/event_loop.h"
#include "broker/core/message.h"
#include "broker/core/status.h"

namespace holdfast::bridge {

enum class HubProtocol : std::uint8_t { kAmqp, kMqtt };

struct HubConnectionOptions {
  HubProtocol protocol = HubProtocol::kAmqp;
  std::string host;  // IoT Hub host name: connected to, verified, named in addresses
  std::uint16_t port = 5671;
  bool tls = true;
  std::string ca_file;  // empty: the system's trust store
  std::string container_id = "holdfast-bridge";
  std::uint32_t idle_timeout_ms = 240'000;  // AMQP idle time-out; MQTT keep-alive (seconds / 1000)
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
    // The device's token was accepted and it can send.
    virtual void on_device_ready(const std::string& device) = 0;
    // The hub refused the device's token or link, or its own connection (MQTT) was lost; its
    // unsettled messages will not be settled.
    virtual void on_device_refused(const std::string& device, const HubOutcome& why) = 0;
    virtual void on_credit(const std::string& device) = 0;
    virtual void on_settled(const std::string& device, std::uint64_t tag,
                            const HubOutcome& outcome) = 0;
    // A cloud-to-device message for the device (address unset; properties and payload as the
    // hub sent them); answer with settle_c2d(id, ...). Only for devices opened with receive_c2d.
    virtual void on_c2d(const std::string& device, std::uint64_t id, core::Message message) = 0;
    // The upstream as a whole is unreachable or its connection failed. Called once; no other
    // call follows.
    virtual void on_disconnected(const core::Status& why) = 0;
  };

  virtual ~HubConnection() = default;

  // Starts connecting. Errors are reported through on_disconnected (possibly before this
  // returns: the listener must tolerate that).
  virtual void connect() = 0;
  // Presents `token` for `device` (again, to renew it); opens the device the first time, and
  // with `receive_c2d` also receives its cloud-to-device messages.
  virtual void open_device(const std::string& device, const std::string& token,
                           bool receive_c2d = false) = 0;
  // How Holdfast dealt with a cloud-to-device message: complete, abandon (the hub redelivers
  // it) or reject (dead-lettered at the hub). Unknown ids (from before a reconnect) are ignored.
  enum class C2dOutcome : std::uint8_t { kComplete, kAbandon, kReject };
  virtual void settle_c2d(std::uint64_t id, C2dOutcome outcome) = 0;
  // False when a C2D message is complete at the hub as soon as it arrives (MQTT: Paho sends
  // the PUBACK itself), so Holdfast must keep it durably before offering it to the device.
  virtual bool relays_c2d_settlement() const { return true; }
  // Messages the device may send now (0 until on_device_ready).
  virtual int credit(const std::string& device) const = 0;
  enum class SendResult : std::uint8_t { kSent, kBusy, kTooLarge };
  // Sends one message unsettled; `tag` comes back in on_settled. kBusy: no credit or not open
  // (try again on on_credit); kTooLarge: the hub can never take it, `why` says so.
  virtual SendResult send(const std::string& device, const core::Message& message,
                          std::uint64_t tag, std::string& why) = 0;
  // IoT Hub batches (AMQP only): packs the longest prefix of `messages` (at least two) that fits
  // one batch transfer, sends it unsettled with `tag` (one on_settled for all of them) and
  // returns how many it packed; 0 when nothing was sent (no credit, not open, batches not
  // supported, or not even two fit): send the first one alone then.
  virtual std::size_t send_batch(const std::string& device,
                                 const std::vector<const core::Message*>& messages,
                                 std::uint64_t tag) {
    (void)device, (void)messages, (void)tag;
    return 0;
  }
  // Closes politely; on_disconnected follows.
  virtual void close() = 0;
};

std::unique_ptr<HubConnection> make_hub_connection(core::EventLoop& loop,
                                                   HubConnectionOptions options,
                                                   HubConnection::Listener& listener);

}  // namespace holdfast::bridge
