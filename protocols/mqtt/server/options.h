#pragma once
// Options of the MQTT listener. Defaults suit a 1 GB gateway with thousands of devices.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace holdfast::core {
class TlsContext;
}

namespace holdfast::iothub {
class DeviceKeys;
class TokenStore;
}

namespace holdfast::mqtt {

struct ServerOptions {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 1883;
  std::uint32_t max_connections = 10000;
  std::size_t max_packet_bytes = 256 * 1024;
  // Durable acknowledgements a client may be waiting for before we stop reading its socket
  // (bounds memory per publishing connection); announced to MQTT 5 clients as Receive Maximum.
  std::uint16_t receive_maximum = 256;
  // Outgoing QoS 1/2 messages awaiting the subscriber's acknowledgement, per session.
  std::uint16_t max_inflight = 64;
  // Messages waiting behind the inflight window (or for an offline persistent session); past
  // it the oldest is dropped and counted, so a slow subscriber cannot grow memory without bound.
  std::size_t max_queued_messages = 1000;
  // Bytes queued on a socket before QoS 0 deliveries to it are dropped (counted).
  std::size_t max_write_buffer_bytes = 1 << 20;
  std::size_t max_subscriptions_per_client = 100;
  std::size_t max_topic_bytes = 1024;
  std::chrono::milliseconds connect_timeout{10'000};  // to receive CONNECT after accept
  // Act as IoT Hub's device endpoint (holdfast-hubsim): only IoT Hub logins of devices listed in
  // device_keys; QoS 2 or a topic other than the device's own events topic closes the connection;
  // subscriptions only to its devicebound topic and $iothub/ twin and method topics (at most 5,
  // QoS <= 1); the connection closes when the device's token expires.
  bool iothub_only = false;
  // Serve TLS (MQTT over TLS, 8883). Null: plain TCP.
  std::shared_ptr<core::TlsContext> tls;
  // Devices that log in the IoT Hub way (username "{host}/{id}/?api-version=...", password a
  // SAS token) have their token verified against these keys when the device is listed; an
  // unlisted device's token is only checked for expiry (token passthrough). Null: no keys.
  std::shared_ptr<const iothub::DeviceKeys> device_keys;
  // Where valid device tokens are kept for the bridge (token passthrough). Null: not kept.
  std::shared_ptr<iothub::TokenStore> tokens;
};

}  // namespace holdfast::mqtt
