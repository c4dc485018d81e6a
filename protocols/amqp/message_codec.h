#pragma once
// AMQP 1.0 message sections <-> core::Message, without touching the payload.
//
// Operation
//   decode_message() walks the sections of one encoded message (as a transfer carries it):
//   header and delivery-annotations are hop-by-hop and dropped; everything from
//   message-annotations on (message-annotations, properties, application-properties, the body,
//   footer) is kept byte for byte in `kept`, so a message forwarded over AMQP is exactly what the
//   device sent. The same walk fills core::Properties and the payload for other protocols:
//   the payload is the concatenated `data` sections, or the string/binary/symbol of an
//   `amqp-value`, or the raw encoding of any other body value.
//   IoT Hub batches (message-format 0x80013700, the Azure C SDK's only format) carry one complete
//   encoded message per `data` section. Proton 0.37 does not expose a transfer's message-format,
//   so decode_batch() recognises a batch by its shape: nothing but `data` sections (after
//   optional header/annotations), each of which decodes completely as a message with a body.
//
// Concurrency: pure functions; any thread; never block.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/message.h"
#include "broker/core/status.h"

namespace holdfast::amqp {

struct DecodedMessage {
  core::Properties properties;
  std::string payload;
  std::string to;  // properties.to, reply-to and subject; empty when absent
  std::string reply_to;
  std::string subject;
  std::string kept;  // the encoded sections from message-annotations on, byte for byte
  std::uint32_t delivery_count = 0;  // from the header
  bool has_body = false;
  bool has_bare_properties = false;             // a properties or application-properties section
  std::vector<std::string_view> data_sections;  // views into the decoded bytes
};

// Decodes one message. Errors: kInvalidArgument naming the problem (not AMQP, a section that
// is not a described type, an unknown section, sections out of order, trailing garbage).
core::Result<DecodedMessage> decode_message(std::string_view bytes);

// The inner messages when `outer` (decoded from `bytes`) is an IoT Hub batch; nullopt when it
// is an ordinary message.
std::optional<std::vector<DecodedMessage>> decode_batch(const DecodedMessage& outer);

// Fills a core::Message (address left to the caller) from a decoded AMQP message.
core::Message to_core_message(DecodedMessage decoded);

// The bytes of a transfer for `message`: a header (durable, delivery-count), then the kept
// sections of an AMQP-originated message, or sections built from the message's properties
// (message-id, correlation-id, content-type, content-encoding, creation-time, to = address),
// user properties as application-properties (first of a repeated key wins) and the payload as
// one `data` section.
std::string encode_message(const core::Message& message, std::uint32_t delivery_count);

// Appends a `data` section holding `bytes` to `out`: an IoT Hub batch is a series of them, each
// one encode_message() result.
void append_data_section(std::string& out, std::string_view bytes);

// Stringified AMQP message-id / correlation-id as kept in core::Properties: strings as they
// are, ulongs in decimal, UUIDs in 8-4-4-4-12 lower-case hex, binaries in lower-case hex.
}  // namespace holdfast::amqp
