#pragma once
// Recognises the credentials an IoT Hub device or module sends in MQTT CONNECT:
//   client id  "{deviceId}" or "{deviceId}/{moduleId}"
//   username   "{host}/{deviceId}/?api-version=2021-04-12[&DeviceClientType=..][&model-id=..]
//               [&auth-chain=leafId;edgeId]"   (modules: "{host}/{deviceId}/{moduleId}/?...")
//   password   a SAS token (see sas.h)
// The accepted username forms follow Azure IoT Edge's edgeHub (MqttUsernameParser). Pure
// functions; any thread; never block.

#include <optional>
#include <string>
#include <string_view>

namespace holdfast::iothub {

struct MqttDeviceLogin {
  std::string host;                // as written; the caller decides whether it must equal the hub's
  std::string device_id;           // as written, not URL-decoded (IoT Hub ids may contain '%')
  std::string module_id;           // empty for a device
  std::string api_version;         // never empty
  std::string device_client_type;  // URL-decoded; empty when absent
  std::string model_id;            // "model-id", URL-decoded; empty when absent
  std::string auth_chain;          // "auth-chain", URL-decoded ("leafId;edgeId"); empty if absent

  friend bool operator==(const MqttDeviceLogin&, const MqttDeviceLogin&) = default;
};

// Parses an IoT Hub MQTT username. Split at '/', it must be "{host}/{deviceId}/{query}" or
// "{host}/{deviceId}/{moduleId}/{query}" where {query} is "?k=v&k=v..." or, for old SDKs,
// "k=v&k=v..." containing "api-version=". Query names are case-sensitive, unknown ones are
// ignored, the first of a repeated name wins. Values are URL-decoded leniently, like edgeHub
// does: a '%' not followed by two hex digits is kept as it is.
// Returns nullopt when the username has another shape, an empty host, device or module id, or no
// non-empty api-version: it is then not an IoT Hub login (the listener may try other schemes).
std::optional<MqttDeviceLogin> parse_mqtt_username(std::string_view username);

// The MQTT client id IoT Hub requires with this login: "{deviceId}" or "{deviceId}/{moduleId}".
// The listener must refuse a CONNECT whose client id differs (compared exactly, as edgeHub does).
std::string mqtt_client_id_for(const MqttDeviceLogin& login);

}  // namespace holdfast::iothub
