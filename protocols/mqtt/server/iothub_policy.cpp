#include "protocols/mqtt/server/iothub_policy.h"

#include <algorithm>

#include "broker/core/address.h"

namespace holdfast::mqtt::iothub_policy {
namespace {

using core::iequals;

}  // namespace

std::optional<std::string> publish_refusal(std::string_view topic, QoS qos,
                                           std::string_view device) {
  if (qos == QoS::kExactlyOnce) return "QoS 2 is not supported by IoT Hub";
  auto address = core::parse_device_address(topic);
  if (!address || address->endpoint != core::DeviceEndpoint::kEvents ||
      !iequals(address->device_id, device)) {
    return "topic '" + std::string(topic) + "' is not devices/" + std::string(device) +
           "/messages/events/";
  }
  return std::nullopt;
}

std::optional<QoS> subscribe_grant(std::string_view filter, QoS qos, std::string_view device) {
  QoS granted = std::min(qos, QoS::kAtLeastOnce);
  if (filter.starts_with("$iothub/twin/") || filter.starts_with("$iothub/methods/")) {
    return granted;
  }
  std::string devicebound = "devices/" + std::string(device) + "/messages/devicebound/#";
  if (iequals(filter, devicebound)) return granted;
  return std::nullopt;
}

}  // namespace holdfast::mqtt::iothub_policy
