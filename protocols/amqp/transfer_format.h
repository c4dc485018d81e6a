#pragma once
// The message-format of outgoing transfers, which Proton 0.37 cannot set: IoT Hub batches need
// 0x80013700 on the TRANSFER frame, and Proton always writes 0. TransferFormatter sits between
// Proton's connection driver and the socket (or TLS) and rewrites the message-format field of
// the TRANSFER frames whose delivery-tag asks for another format; every other byte passes as
// it is.
//
// Operation
//   feed() takes the outgoing byte stream in any pieces and appends the rewritten stream to
//   `out`; an incomplete frame waits inside until the rest arrives. The stream is AMQP's: an
//   8-byte protocol header ("AMQP" + id + version) wherever one starts, else frames (4-byte
//   size, doff, type, channel). A type-0 frame whose performative is transfer (descriptor 0x14)
//   has its list's first fields read (handle, delivery-id, delivery-tag, message-format); when
//   `format(tag)` gives a value, message-format is re-encoded as that uint and the list and frame
//   sizes grow to match. A transfer without a tag (a continuation frame) is left alone.
//   The frame grows by at most 5 bytes: whoever marks a delivery keeps it under the peer's
//   max-frame-size with room to spare, so it is one frame. A marked delivery that Proton split
//   into several frames (more = true) is an error: the first frame is full and cannot grow.
//   read_transfer_format() does the reverse walk on one frame, for tests and diagnostics.
//
// Concurrency: one formatter per connection, used by one thread.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::amqp {

// IoT Hub's batch format: the body is a series of data sections, each one encoded message.
inline constexpr std::uint32_t kBatchMessageFormat = 0x80013700;

class TransferFormatter {
 public:
  using FormatOf = std::function<std::optional<std::uint32_t>(std::string_view delivery_tag)>;
  explicit TransferFormatter(FormatOf format) : format_(std::move(format)) {}

  // kInvalidArgument when the stream is not AMQP framing or a marked delivery spans several
  // frames (what came before it is appended; the connection cannot go on).
  core::Status feed(std::string_view in, std::string& out);
  // Bytes of an incomplete frame held back.
  std::size_t held() const { return partial_.size(); }

 private:
  // Appends one complete frame (rewritten when marked) to `out`.
  core::Status frame(std::string_view f, std::string& out);

  FormatOf format_;
  std::string partial_;
};

struct TransferFields {
  std::string delivery_tag;
  std::optional<std::uint32_t> message_format;  // absent (null or not encoded)
};

// The first fields of a TRANSFER frame `f` (one whole frame, header included); nullopt when it
// is not a transfer or uses encodings this reader does not know.
std::optional<TransferFields> read_transfer_fields(std::string_view f);

}  // namespace holdfast::amqp
