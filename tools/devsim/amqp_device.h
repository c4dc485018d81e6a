#pragma once
// AmqpIotHubDevice: one device speaking IoT Hub's AMQP dialogue the way the Azure IoT C SDK
// does, over plain TCP (as Holdfast's devices do) or to anything that speaks it:
//   SASL MSSBCBS (empty response) -> OPEN -> one session -> `$cbs` sender and receiver ->
//   put-token (message-id ulong, no reply-to, type servicebus.windows.net:sastoken, the name
//   {host}/devices/{id}) -> a reply with an int status-code and a ulong correlation-id ->
//   sender on amqps://{host}/devices/{id}/messages/events -> every send is a batch: the body
//   is one `data` section per message, each holding a complete encoded message (properties,
//   application-properties, data), as the C SDK sends even single messages.
//   Proton 0.37 cannot set a transfer's message-format, so the 0x80013700 code itself is not
//   sent; the batch's shape is.
//
// Concurrency: one thread; run() blocks until done or failed.
#include <cstdint>
#include <string>
#include <vector>

#include "broker/core/status.h"

namespace holdfast::devsim {

struct DeviceMessage {
  std::string message_id;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> properties;
  std::string payload;
};

struct AmqpDeviceOptions {
  std::string host = "127.0.0.1";  // where to connect
  std::uint16_t port = 5672;
  std::string hub_host;  // IoT Hub host name used in addresses and the token audience
  std::string device_id;
  std::string sas_token;  // presented with put-token
  std::size_t batch = 1;  // messages per transfer
  int timeout_ms = 30'000;
};

struct AmqpDeviceResult {
  int cbs_status = 0;  // status-code of the put-token reply
  std::string cbs_description;
  std::size_t accepted = 0;  // messages in transfers the gateway accepted
  std::size_t refused = 0;   // in transfers it rejected or released
  std::string refusal;       // the first refusal's condition and description
};

// Connects, authenticates through $cbs and sends `messages` in batches of options.batch,
// each unsettled, waiting for every disposition. Errors: kUnavailable (cannot connect, the
// connection failed or timed out; the message says why).
core::Result<AmqpDeviceResult> run_amqp_device(const AmqpDeviceOptions& options,
                                               const std::vector<DeviceMessage>& messages);

}  // namespace holdfast::devsim
