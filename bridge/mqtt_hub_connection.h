#pragma once
// MqttHubConnection: the HubConnection (hub_connection.h) over IoT Hub's MQTT 3.1.1 endpoint
// (8883), with Eclipse Paho's asynchronous C client. IoT Hub's MQTT has no multiplexing, so each
// device gets its own connection, as each device would have had without the gateway: client id
// = device id, username {host}/{id}/?api-version=2021-04-12, the SAS token as password, TLS 1.2+
// with SNI and host-name verification.
//
// Operation
//   connect() reports on_connected at once (there is no shared connection to open). open_device()
//   connects the device's client; CONNACK 0 -> on_device_ready (and, with receive_c2d, a QoS 1
//   subscription to devices/{id}/messages/devicebound/#); CONNACK 1-5 -> on_device_refused with
//   "amqp:unauthorized-access" (bad or unknown credentials: the forwarder holds the queue); a
//   TCP or TLS failure -> on_disconnected for the whole upstream (the forwarder backs off and
//   makes a new connection object). send() publishes QoS 1 to devices/{id}/messages/events/
//   {property bag} (payload byte for byte; the properties as IoT Hub's bag); the PUBACK settles
//   it accepted. MQTT has no refusals: IoT Hub closes the connection instead (throttling, quota,
//   oversize, QoS 2), so a lost device connection -> on_device_refused with the transient
//   "mqtt:connection-lost" and its unsettled messages are sent again later.
//   A renewed token (open_device on an open device) needs a new connection: the device stops
//   taking messages (credit 0), and once its PUBACKs are in it reconnects with the new password.
//   Cloud-to-device: Paho acknowledges (PUBACK = IoT Hub's complete) when the message has been
//   handed over, so settle_c2d() has nothing to tell the hub.
//
// Concurrency: bridge thread only. Paho calls back on its own threads; every callback only posts
// a task to the bridge loop (guarded by a weak pointer and the client's generation).
//
// Limitations: a message larger than 256 KiB (payload plus property bag) is refused locally as
// IoT Hub would close the connection over it; C2D messages are counted complete on arrival.
#include <map>
#include <memory>
#include <string>

#include "bridge/hub_connection.h"

namespace holdfast::bridge {

class MqttHubConnection final : public HubConnection {
 public:
  static constexpr std::size_t kMaxMessageBytes = 256 * 1024;
  static constexpr int kMaxInflight = 100;  // unacknowledged publishes per device

  MqttHubConnection(core::EventLoop& loop, HubConnectionOptions options, Listener& listener);
  ~MqttHubConnection() override;
  MqttHubConnection(const MqttHubConnection&) = delete;
  MqttHubConnection& operator=(const MqttHubConnection&) = delete;

  // HubConnection
  void connect() override;
  void open_device(const std::string& device, const std::string& token,
                   bool receive_c2d = false) override;
  void settle_c2d(std::uint64_t id, C2dOutcome outcome) override;
  bool relays_c2d_settlement() const override { return false; }
  int credit(const std::string& device) const override;
  SendResult send(const std::string& device, const core::Message& message, std::uint64_t tag,
                  std::string& why) override;
  void close() override;

  struct Device;     // one Paho client
  struct Callbacks;  // what Paho's threads may touch

  // Paho's reports, posted to the bridge thread; `generation` names the client they came from.
  void connect_result(const std::string& device, std::uint64_t generation, int code,
                      const std::string& message);
  void lost(const std::string& device, std::uint64_t generation, const std::string& cause);
  void acked(const std::string& device, std::uint64_t generation, int token);
  void arrived(const std::string& device, std::uint64_t generation, const std::string& topic,
               std::string payload);

 private:
  void start_client(Device& d);
  void maybe_renew(Device& d);
  void drop_client(Device& d);
  void fail(const core::Status& why);
  Device* find(const std::string& device, std::uint64_t generation);

  core::EventLoop& loop_;
  HubConnectionOptions options_;
  Listener& listener_;
  bool failed_ = false;
  std::map<std::string, std::unique_ptr<Device>> devices_;
  std::uint64_t next_generation_ = 1;
  std::uint64_t next_c2d_id_ = 1;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace holdfast::bridge
