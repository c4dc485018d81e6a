#pragma once
// The MQTT decoder: bytes in, packets out (sans-IO).
//
// Operation
//   Feed it the bytes of one connection's stream as they arrive, in any chunking (one byte at a
//   time works); every complete packet is appended to the caller's vector. The first error ends
//   the stream: the decoder stays failed and returns the same error from every later feed().
//   A server then closes the connection, for MQTT 5 after sending DISCONNECT (or CONNACK while
//   connecting) with reason_code_for(error).
//
//   The protocol level comes from DecoderOptions::version or is learned from CONNECT, which must
//   then be the first packet (anything else is kInvalidPacketType). A CONNECT is always parsed by
//   its own protocol name and level and sets the decoder's level for the packets after it.
//
// Memory
//   The maximum packet size is checked as soon as the fixed header is complete, before any of
//   the body is buffered. A packet is parsed straight from the caller's bytes when they hold
//   all of it; otherwise it is collected in one buffer that grows with the bytes received
//   (doubling, capped at the packet's size): the decoder never holds more than the packet, so
//   never more than max_packet_size bytes (the fixed header's 2 to 5 bytes included). The buffer
//   is released after a packet over 64 KiB.
//
// Concurrency
//   Single owner: one decoder per connection, used by the thread that reads the connection.
//   Never blocks, never allocates beyond the packets it returns and the buffer above.
//
// Limitations
//   Checks only what one packet shows. Topic alias resolution, packet id bookkeeping, receive
//   maximum, "CONNECT only once", and which packet types a client or server may send belong to
//   the session. Topic filter syntax is not checked (see is_valid_topic_filter in topic.h).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt {

struct DecoderOptions {
  // Largest packet accepted, counted like MQTT 5's Maximum Packet Size: the whole packet, fixed
  // header included. Larger ones fail with kPacketTooLarge. kMaxPacketSize means no limit.
  std::size_t max_packet_size = 1024 * 1024;
  // The protocol level of the stream; unset: learned from CONNECT, which must come first (a
  // server leaves it unset, a client sets it to the level of the CONNECT it sent).
  std::optional<ProtocolVersion> version;
};

class Decoder {
 public:
  // Single owner; see the file comment.
  explicit Decoder(DecoderOptions options = {});

  // Consumes all of `bytes` and appends every packet completed by them to `out` (which may
  // already hold packets; they are kept). Packets before an error are still appended.
  // Errors: kMalformedRemainingLength, kPacketTooLarge, kInvalidPacketType, kInvalidFlags,
  // kMalformedPacket, kInvalidUtf8, kProtocolError, kUnsupportedProtocol (CONNECT with a level
  // this codec does not speak: a server answers with a Connack{kUnsupportedProtocolVersion}
  // encoded as MQTT 3.1.1, which is return code 1). After an error every call returns it again.
  CodecStatus feed(std::string_view bytes, std::vector<Packet>& out);

  // The protocol level packets are decoded with: from the options, or the last CONNECT.
  std::optional<ProtocolVersion> version() const { return version_; }

  // Sets the protocol level for the packets that follow (e.g. a client after its CONNECT).
  void set_version(ProtocolVersion version) { version_ = version; }

  // The error that ended the stream, or OK.
  const CodecStatus& status() const { return status_; }

  // True between packets: nothing of a partial packet is held. A connection closed while this
  // is false ended in the middle of a packet.
  bool at_packet_boundary() const { return header_size_ == 0; }

  // Bytes of a partial packet held right now (fixed header included).
  std::size_t buffered_bytes() const { return header_size_ + body_.size(); }

  // Bytes allocated for partial packets right now (for tests and metrics).
  std::size_t buffer_capacity() const { return body_.capacity(); }

 private:
  CodecStatus fail(CodecStatus status);
  // Parses one whole packet; `body` is its Remaining Length bytes.
  CodecStatus complete(std::string_view body, std::vector<Packet>& out);

  DecoderOptions options_;
  std::optional<ProtocolVersion> version_;
  CodecStatus status_;
  // The fixed header being read: first byte, then up to 4 Remaining Length bytes.
  std::uint8_t first_byte_ = 0;
  std::size_t header_size_ = 0;
  std::uint32_t remaining_ = 0;
  bool header_done_ = false;
  // The part of the body received so far, when it came in pieces. A vector, not a string:
  // its reserve() allocates what is asked, where std::string's may double past the packet.
  std::vector<char> body_;
};

}  // namespace holdfast::mqtt
