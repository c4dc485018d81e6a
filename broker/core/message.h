#pragma once
// Message: one unit of telemetry (or a command) as every Holdfast module sees it.
//
// The payload is opaque bytes. Holdfast never decodes, decrypts or re-encodes it: devices
// often encrypt it themselves (TEA), and it must reach IoT Hub byte for byte. `std::string` is
// used as a byte container because it is what RocksDB, Proton and the codecs hand us without a
// copy; treat it as bytes, never as text.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace holdfast::core {

// Which adapter a message came in through.
enum class Protocol : std::uint8_t {
  kUnknown = 0,
  kMqtt = 1,
  kAmqp = 2,
  kCoap = 3,
  kInternal = 4,  // made by Holdfast itself (e.g. imported by holdfastctl)
};

std::string_view protocol_name(Protocol protocol);  // "mqtt", "amqp", ...

// User properties keep their order and may repeat a key (MQTT 5 allows both).
using UserProperties = std::vector<std::pair<std::string, std::string>>;

// The application properties a message carries. Empty strings mean "absent".
struct Properties {
  std::string message_id;
  std::string correlation_id;
  std::string content_type;
  std::string content_encoding;
  std::optional<std::int64_t> creation_time_ms;  // Unix epoch milliseconds, as the sender set it
  UserProperties user;

  friend bool operator==(const Properties&, const Properties&) = default;
};

// Who sent a message.
struct Origin {
  Protocol protocol = Protocol::kUnknown;
  std::string client_id;  // MQTT client id, AMQP container id, CoAP endpoint
  std::string device_id;  // IoT Hub device id when known, else empty

  friend bool operator==(const Origin&, const Origin&) = default;
};

struct Message {
  std::string address;  // '/'-separated: MQTT topic, AMQP address or CoAP path
  std::string payload;  // opaque bytes
  Properties properties;
  Origin origin;
  std::int64_t received_at_ms = 0;  // Unix epoch milliseconds when Holdfast received it
  // The AMQP bare message exactly as the device encoded it (properties, application
  // properties, body), so that AMQP-to-AMQP forwarding is byte-exact. Absent for other
  // protocols.
  std::optional<std::string> amqp_bare;

  friend bool operator==(const Message&, const Message&) = default;
};

// Milliseconds since the Unix epoch from the system clock.
std::int64_t now_ms();
// Seconds since the Unix epoch (SAS token expiries are in seconds).
inline std::int64_t now_s() { return now_ms() / 1000; }

}  // namespace holdfast::core
