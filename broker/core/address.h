#pragma once
// Addresses: one '/'-separated string for MQTT topics, AMQP addresses and CoAP paths, so that
// routes written once apply to every protocol. Pure functions; any thread; never block.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/status.h"

namespace holdfast::core {

// Splits at every '/', keeping empty levels: "a//b" -> {"a", "", "b"}, "/a" -> {"", "a"},
// "" -> {""}. The views point into `address`.
std::vector<std::string_view> split_address(std::string_view address);

// An MQTT topic name a message may be published to: 1..65535 bytes, no '+', '#' or NUL.
bool is_valid_topic_name(std::string_view topic);

// An MQTT topic filter: 1..65535 bytes, no NUL, '+' only as a whole level, '#' only as the
// whole last level.
bool is_valid_topic_filter(std::string_view filter);

// MQTT matching (OASIS MQTT 3.1.1 section 4.7): '+' matches exactly one level, '#' the parent
// level and any number of levels below it. A topic whose first level starts with '$' is not
// matched by a filter whose first level is a wildcard. Both arguments are assumed valid.
bool topic_matches(std::string_view filter, std::string_view topic);

// The IoT Hub endpoints a device address can name.
enum class DeviceEndpoint {
  kEvents,       // devices/{id}/messages/events: telemetry, device to cloud
  kDeviceBound,  // devices/{id}/messages/devicebound: commands, cloud to device
};

struct DeviceAddress {
  std::string device_id;  // URL-decoded, case preserved
  DeviceEndpoint endpoint = DeviceEndpoint::kEvents;
  // What follows the endpoint after a '/', e.g. an MQTT property bag "$.ct=json&a=1";
  // empty when nothing follows.
  std::string tail;
};

// Recognises IoT Hub device addresses as IoT Hub does: an optional "amqps://host[:port]"
// prefix, an optional leading '/', then "devices/{id}/messages/events" or
// "devices/{id}/messages/devicebound", matched case-insensitively, with the id URL-decoded.
// Returns nullopt for any other address (including an empty id or a bad %-escape).
std::optional<DeviceAddress> parse_device_address(std::string_view address);

// Decodes %XX escapes ('+' stays '+'). Fails with kInvalidArgument on a malformed escape.
Result<std::string> url_decode(std::string_view text);

// Encodes every byte outside [A-Za-z0-9-._~] as %XX (upper-case hex).
std::string url_encode(std::string_view text);

// ASCII case-insensitive equality (IoT Hub matches addresses and names this way).
bool iequals(std::string_view a, std::string_view b);

}  // namespace holdfast::core
