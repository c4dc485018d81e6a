#pragma once
// Helpers for the MQTT codec tests: bytes from hex, decode/encode in one call.

#include <gtest/gtest.h>

#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mqtt/decoder.h"
#include "protocols/mqtt/encoder.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt::testing {

// "10 1E 00 04" -> the four bytes. Whitespace is ignored.
inline std::string hex(std::string_view text) {
  std::string out;
  int high = -1;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int v = std::isdigit(static_cast<unsigned char>(c))
                      ? c - '0'
                      : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<char>(high * 16 + v));
      high = -1;
    }
  }
  return out;
}

// The bytes as "10 1E 00 04 ..." for failure messages.
inline std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (char c : bytes) {
    if (!out.empty()) out += ' ';
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 0xF];
  }
  return out;
}

struct Decoded {
  std::vector<Packet> packets;
  CodecStatus status;
};

// Feeds `bytes` in one piece to a fresh decoder.
inline Decoded decode(std::string_view bytes, std::optional<ProtocolVersion> version,
                      std::size_t max_packet_size = kMaxPacketSize) {
  Decoder decoder(DecoderOptions{.max_packet_size = max_packet_size, .version = version});
  Decoded d;
  d.status = decoder.feed(bytes, d.packets);
  return d;
}

// Decodes exactly one packet or fails the test.
inline Packet decode_one(std::string_view bytes, std::optional<ProtocolVersion> version) {
  Decoded d = decode(bytes, version);
  EXPECT_TRUE(d.status.ok()) << d.status.to_string() << " for " << to_hex(bytes);
  EXPECT_EQ(d.packets.size(), 1u) << to_hex(bytes);
  return d.packets.empty() ? Packet{} : d.packets.front();
}

// The error decoding `bytes` gives (kNone if none).
inline CodecError decode_error(std::string_view bytes, std::optional<ProtocolVersion> version) {
  return decode(bytes, version).status.error;
}

// Encodes or fails the test.
inline std::string encode_ok(const Packet& packet, ProtocolVersion version) {
  std::string out;
  CodecStatus s = encode(packet, version, out);
  EXPECT_TRUE(s.ok()) << s.to_string();
  return out;
}

inline CodecError encode_error(const Packet& packet, ProtocolVersion version) {
  std::string out = "kept";
  CodecStatus s = encode(packet, version, out);
  EXPECT_EQ(out, "kept") << "output changed by a failed encode";
  return s.error;
}

inline constexpr ProtocolVersion kV31 = ProtocolVersion::kV31;
inline constexpr ProtocolVersion kV311 = ProtocolVersion::kV311;
inline constexpr ProtocolVersion kV5 = ProtocolVersion::kV5;

}  // namespace holdfast::mqtt::testing

namespace holdfast::mqtt::testing {

// `bytes` decodes to exactly `packet` and `packet` encodes to exactly `bytes` at `version`.
// Decoding starts with the level unset for CONNECT (it is learned) and at `version` otherwise.
inline void expect_codec(std::string_view bytes, const Packet& packet, ProtocolVersion version) {
  Decoded d = decode(bytes, std::holds_alternative<Connect>(packet)
                                ? std::nullopt
                                : std::optional<ProtocolVersion>(version));
  ASSERT_TRUE(d.status.ok()) << d.status.to_string() << " for " << to_hex(bytes);
  ASSERT_EQ(d.packets.size(), 1u);
  EXPECT_TRUE(d.packets.front() == packet) << "decoded packet differs for " << to_hex(bytes);
  EXPECT_EQ(to_hex(encode_ok(packet, version)), to_hex(bytes));
}

}  // namespace holdfast::mqtt::testing
