// libFuzzer target for the MQTT codec (protocols/mqtt).
//
// Input layout: byte 0 picks the decoder's start (bits 0-1: 0 learn the level from CONNECT,
// 1 MQTT 3.1, 2 MQTT 3.1.1, 3 MQTT 5; bit 2: a 256-byte maximum packet size instead of the
// default), byte 1 seeds the chunking (0: one piece), the rest is the byte stream.
//
// Checked for every input:
//   - decoding in random chunks gives exactly what decoding in one piece gives (packets and
//     error), and the decoder never holds more than the maximum packet size;
//   - every decoded packet encodes (at the level it was decoded with), the bytes decode to an
//     equal packet, and encoding that again gives the same bytes.
// A failed check prints what went wrong and aborts, which both libFuzzer and the corpus replay
// driver (replay_main.cpp) report.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/decoder.h"
#include "protocols/mqtt/encoder.h"
#include "protocols/mqtt/packet.h"

namespace {

using holdfast::mqtt::CodecStatus;
using holdfast::mqtt::Connect;
using holdfast::mqtt::Decoder;
using holdfast::mqtt::DecoderOptions;
using holdfast::mqtt::Packet;
using holdfast::mqtt::ProtocolVersion;

void check(bool ok, const char* what, const std::string& detail = {}) {
  if (ok) return;
  std::fprintf(stderr, "mqtt_codec_fuzz: check failed: %s %s\n", what, detail.c_str());
  std::abort();
}

struct Run {
  std::vector<Packet> packets;
  std::vector<ProtocolVersion> versions;  // the level each packet was decoded with
  CodecStatus status;
};

// Decodes `stream` in chunks whose sizes come from `seed` (0: one piece).
Run decode(std::string_view stream, const DecoderOptions& options, std::uint32_t seed) {
  Decoder decoder(options);
  Run run;
  std::uint32_t state = seed * 2654435761u + 1;
  while (true) {
    std::size_t n = stream.size();
    if (seed != 0) {
      state ^= state << 13, state ^= state >> 17, state ^= state << 5;  // xorshift32
      n = std::min<std::size_t>(n, (state % 4 == 0) ? state % 64 : state % 8);
    }
    std::optional<ProtocolVersion> version = decoder.version();
    const std::size_t before = run.packets.size();
    run.status = decoder.feed(stream.substr(0, n), run.packets);
    stream.remove_prefix(n);
    // Replay the level changes the decoder made: each CONNECT sets it.
    for (std::size_t i = before; i < run.packets.size(); ++i) {
      if (const auto* c = std::get_if<Connect>(&run.packets[i])) version = c->version;
      check(version.has_value(), "packet decoded without a protocol level");
      run.versions.push_back(*version);
    }
    check(decoder.buffer_capacity() <= options.max_packet_size, "buffer over the maximum");
    check(decoder.buffered_bytes() <= options.max_packet_size + 5, "buffered over the maximum");
    if (!run.status.ok() || stream.empty()) break;
  }
  return run;
}

void check_round_trip(const Packet& packet, ProtocolVersion version) {
  std::string bytes;
  const CodecStatus encoded = holdfast::mqtt::encode(packet, version, bytes);
  check(encoded.ok(), "a decoded packet does not encode:", encoded.to_string());
  const bool is_connect = std::holds_alternative<Connect>(packet);
  Decoder decoder(DecoderOptions{
      .max_packet_size = holdfast::mqtt::kMaxPacketSize,
      .version = is_connect ? std::nullopt : std::optional<ProtocolVersion>(version)});
  std::vector<Packet> again;
  const CodecStatus decoded = decoder.feed(bytes, again);
  check(decoded.ok(), "re-encoded packet does not decode:", decoded.to_string());
  check(again.size() == 1, "re-encoded packet decodes to a different number of packets");
  check(again[0] == packet, "round trip changed the packet");
  check(decoder.at_packet_boundary(), "re-encoded packet leaves bytes behind");
  std::string bytes2;
  check(holdfast::mqtt::encode(again[0], version, bytes2).ok(), "second encode failed");
  check(bytes2 == bytes, "encoding is not stable");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  DecoderOptions options;
  switch (data[0] & 0x03) {
    case 1:
      options.version = ProtocolVersion::kV31;
      break;
    case 2:
      options.version = ProtocolVersion::kV311;
      break;
    case 3:
      options.version = ProtocolVersion::kV5;
      break;
    default:
      break;
  }
  if ((data[0] & 0x04) != 0) options.max_packet_size = 256;
  const std::string_view stream(reinterpret_cast<const char*>(data + 2), size - 2);

  const Run whole = decode(stream, options, 0);
  const Run chunked = decode(stream, options, data[1]);
  check(whole.packets == chunked.packets, "chunking changed the packets");
  check(whole.status == chunked.status, "chunking changed the error:",
        whole.status.to_string() + " vs " + chunked.status.to_string());
  for (std::size_t i = 0; i < whole.packets.size(); ++i) {
    check_round_trip(whole.packets[i], whole.versions[i]);
  }
  return 0;
}
