#pragma once
// Options of the AMQP 1.0 listener. Defaults follow what IoT Hub announces where a device may
// depend on it (max-frame-size 65536, idle-time-out 240 s).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace holdfast::iothub {
class DeviceKeys;
class TokenStore;
}  // namespace holdfast::iothub

namespace holdfast::amqp {

struct AmqpOptions {
  std::string bind = "0.0.0.0";
  std::uint16_t port = 5672;
  std::uint32_t max_connections = 10000;
  // Largest message accepted (announced as the links' max-message-size); larger transfers
  // detach their link with amqp:link:message-size-exceeded.
  std::size_t max_message_bytes = 512 * 1024;
  std::uint32_t max_frame_bytes = 65536;
  std::uint16_t channel_max = 8191;
  // Announced idle time-out: a peer that sends nothing for this long is disconnected. Proton
  // sends empty frames to honour the peer's own time-out.
  std::chrono::milliseconds idle_timeout{240'000};
  // Time to finish SASL and OPEN after accept; a half-open connection is closed after it.
  std::chrono::milliseconds open_timeout{10'000};
  std::size_t max_sessions_per_connection = 256;
  std::size_t max_links_per_connection = 1024;
  // Credit granted to each sending device link; also the most unacknowledged transfers per
  // link waiting for the store, which bounds memory per publisher.
  std::uint32_t link_credit = 100;
  // Live (topic) messages buffered for a receiver without credit before the oldest is dropped.
  std::size_t max_buffered_live = 1000;
  // Links to devices/{id}/... need a valid SAS token for that id (CBS put-token or SASL PLAIN).
  bool require_device_auth = false;
  // Tokens of devices the device keys do not list are refused (IoT Hub's registry semantics,
  // for the hub emulator); otherwise they pass through with only their expiry checked.
  bool require_known_devices = false;
  std::string container_id = "holdfast";
  // TLS (AMQPS, 5671): PEM certificate chain and key; with a CA file, clients must present a
  // certificate it signed. TLS 1.2 and later only.
  bool tls = false;
  std::string cert_file;
  std::string key_file;
  std::string ca_file;
  // As in the MQTT listener: verify device tokens with these keys; keep valid ones for the bridge.
  std::shared_ptr<const iothub::DeviceKeys> device_keys;
  std::shared_ptr<iothub::TokenStore> tokens;
};

}  // namespace holdfast::amqp
