#include "broker/core/message.h"

#include <chrono>

namespace holdfast::core {

std::string_view protocol_name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kUnknown:
      return "unknown";
    case Protocol::kMqtt:
      return "mqtt";
    case Protocol::kAmqp:
      return "amqp";
    case Protocol::kCoap:
      return "coap";
    case Protocol::kInternal:
      return "internal";
  }
  return "unknown";
}

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace holdfast::core
