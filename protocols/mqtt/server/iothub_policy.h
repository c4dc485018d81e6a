#pragma once
// IoT Hub's MQTT rules, for a server acting as IoT Hub's device endpoint (ServerOptions::
// iothub_only; holdfast-hubsim uses it): what a logged-in device may publish and subscribe to.
// Wire facts: ../shared/IOTHUB.md, section MQTT 3.1.1.
//
// Concurrency: pure functions; any thread.
#include <optional>
#include <string>
#include <string_view>

#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt::iothub_policy {

// IoT Hub takes at most this many subscriptions per connection.
inline constexpr std::size_t kMaxSubscriptions = 5;

// Why IoT Hub would close the connection of `device` for this PUBLISH; nullopt: it is taken.
// QoS 2 is refused, and a device publishes only to devices/{itself}/messages/events[/{bag}].
std::optional<std::string> publish_refusal(std::string_view topic, QoS qos,
                                           std::string_view device);

// The QoS IoT Hub grants `device` for a subscription, or nullopt for a SUBACK failure:
// devices/{itself}/messages/devicebound/# and the $iothub/ twin and method topics, at most QoS 1.
std::optional<QoS> subscribe_grant(std::string_view filter, QoS qos, std::string_view device);

}  // namespace holdfast::mqtt::iothub_policy
