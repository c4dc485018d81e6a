#pragma once
// What holdfast-devsim's AMQP devices put on the wire and read back, on Proton-C's codec: the
// Azure C SDK's SASL mechanism MSSBCBS (client side: Proton's built-in SASL client knows only
// PLAIN, ANONYMOUS and EXTERNAL), the $cbs put-token request and its reply, telemetry messages
// and IoT Hub batches, and the TCP connect. No I/O beyond connect_tcp(); no state.
//
// Concurrency: pure functions; any thread.
#include <proton/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace holdfast::devsim {

struct DeviceMessage {
  std::string message_id;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> properties;  // application-properties
  std::string payload;                                          // one data section
};

// The message `seq` of `device` as every mode sends it: message-id "{device}-{seq}",
// content-type application/octet-stream, application property seq = "{seq}".
DeviceMessage device_message(const std::string& device, std::uint64_t seq, std::string payload);

// Makes `transport` (a client's) authenticate with SASL MSSBCBS and an empty initial response,
// as the Azure C SDK does; the token follows through $cbs.
void use_mssbcbs(pn_transport_t* transport);

// One encoded AMQP message: properties (message-id as a string, content-type),
// application-properties (strings), one data section; in the section order the C SDK uses.
std::string encode_message(const DeviceMessage& m);

// An IoT Hub batch body: one `data` section per message, each a complete encoded message.
std::string encode_batch(const std::vector<DeviceMessage>& messages);

// The C SDK's put-token request: message-id ulong `id`, no reply-to, application properties
// operation=put-token, type=servicebus.windows.net:sastoken, name=`audience`; body an
// amqp-value string holding `token`.
std::string encode_put_token(std::uint64_t id, const std::string& audience,
                             const std::string& token);

// A put-token reply as the C SDK reads it: the correlation-id must be a ulong and status-code
// an AMQP int, else `error` says why (the C SDK rejects such a reply).
struct CbsReply {
  std::uint64_t correlation_id = 0;
  int status = 0;
  std::string description;
  std::string error;  // empty: the reply is well-formed
};
CbsReply decode_put_token_reply(std::string_view bytes);

// A received message (cloud-to-device): its first body section's bytes (data, or an
// amqp-value string or binary) and its message-id, correlation-id and string application
// properties. nullopt when it cannot be decoded.
struct ReceivedMessage {
  std::string payload;
  std::string message_id;
  std::string correlation_id;
  std::vector<std::pair<std::string, std::string>> properties;
};
std::optional<ReceivedMessage> decode_message(std::string_view bytes);

// A blocking TCP connect; the socket (close-on-exec), or -1 with `why` set.
int connect_tcp(const std::string& host, std::uint16_t port, std::string& why);

}  // namespace holdfast::devsim
