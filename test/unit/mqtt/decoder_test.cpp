// The decoder as a stream: chunking, protocol level, limits, Remaining Length boundaries.

#include "protocols/mqtt/decoder.h"

#include <gtest/gtest.h>

#include "test/unit/mqtt/mqtt_test_util.h"

namespace holdfast::mqtt {
namespace {

using testing::hex;
using testing::kV311;
using testing::kV5;

// A v5 session's worth of packets from a client: CONNECT first, so the level is learned.
std::vector<Packet> client_packets() {
  Connect connect{.version = ProtocolVersion::kV5, .client_id = "dev-1", .keep_alive = 30};
  connect.properties.session_expiry_interval = 3600;
  Publish publish{.qos = QoS::kAtLeastOnce, .topic = "t/1", .packet_id = 1, .payload = "data"};
  publish.properties.user_properties = {{"seq", "1"}};
  Subscribe subscribe{.packet_id = 2,
                      .subscriptions = {{.filter = "cmd/#", .qos = QoS::kExactlyOnce}}};
  return {connect,
          publish,
          subscribe,
          Pubrec{.packet_id = 9},
          Pubrel{.packet_id = 9},
          Pingreq{},
          Disconnect{.reason_code = ReasonCode::kDisconnectWithWillMessage}};
}

std::string encode_all(const std::vector<Packet>& packets, ProtocolVersion version) {
  std::string out;
  for (const Packet& p : packets) EXPECT_TRUE(encode(p, version, out).ok());
  return out;
}

TEST(MqttDecoder, WholeStreamInOneFeed) {
  const auto packets = client_packets();
  const auto d = testing::decode(encode_all(packets, kV5), std::nullopt);
  ASSERT_TRUE(d.status.ok()) << d.status.to_string();
  EXPECT_TRUE(d.packets == packets);
}

TEST(MqttDecoder, OneByteAtATime) {
  const auto packets = client_packets();
  const std::string stream = encode_all(packets, kV5);
  Decoder decoder;
  std::vector<Packet> out;
  for (char c : stream) {
    ASSERT_TRUE(decoder.feed(std::string_view(&c, 1), out).ok());
    EXPECT_LE(decoder.buffered_bytes(), stream.size());
  }
  EXPECT_TRUE(out == packets);
  EXPECT_TRUE(decoder.at_packet_boundary());
  EXPECT_EQ(decoder.buffered_bytes(), 0u);
}

TEST(MqttDecoder, EveryChunkingIntoThreePieces) {
  const auto packets = client_packets();
  const std::string stream = encode_all(packets, kV5);
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); ++j) {
      Decoder decoder;
      std::vector<Packet> out;
      ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(0, i), out).ok());
      ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(i, j - i), out).ok());
      ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(j), out).ok());
      ASSERT_TRUE(out == packets) << "split at " << i << " and " << j;
      ASSERT_TRUE(decoder.at_packet_boundary());
    }
  }
}

TEST(MqttDecoder, EmptyFeedDoesNothing) {
  Decoder decoder;
  std::vector<Packet> out;
  EXPECT_TRUE(decoder.feed("", out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(decoder.at_packet_boundary());
}

TEST(MqttDecoder, PartialPacketIsReported) {
  Decoder decoder(DecoderOptions{.version = kV311});
  std::vector<Packet> out;
  ASSERT_TRUE(decoder.feed(hex("30 0A 00 03"), out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(decoder.at_packet_boundary());
  EXPECT_EQ(decoder.buffered_bytes(), 4u);
}

TEST(MqttDecoder, LearnsTheLevelFromConnect) {
  Decoder decoder;
  EXPECT_FALSE(decoder.version().has_value());
  std::vector<Packet> out;
  // A v5 CONNECT, then a PUBACK with a reason code, which only v5 allows.
  const std::string stream =
      testing::encode_ok(Connect{.version = ProtocolVersion::kV5}, kV5) + hex("40 03 00 01 10");
  ASSERT_TRUE(decoder.feed(stream, out).ok());
  EXPECT_EQ(decoder.version(), kV5);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[1] ==
              Packet(Puback{.packet_id = 1, .reason_code = ReasonCode::kNoMatchingSubscribers}));
}

TEST(MqttDecoder, SameBytesDependOnTheLevel) {
  // A PUBACK with a reason code is malformed in 3.1.1 (remaining length must be 2).
  EXPECT_EQ(testing::decode_error(hex("40 03 00 01 10"), kV311), CodecError::kMalformedPacket);
  EXPECT_EQ(testing::decode_error(hex("40 03 00 01 10"), kV5), CodecError::kNone);
}

TEST(MqttDecoder, FirstPacketMustBeConnectUnlessTheLevelIsSet) {
  EXPECT_EQ(testing::decode_error(hex("C0 00"), std::nullopt), CodecError::kInvalidPacketType);
  EXPECT_EQ(testing::decode_error(hex("C0 00"), kV311), CodecError::kNone);
}

TEST(MqttDecoder, SetVersionAppliesToFollowingPackets) {
  Decoder decoder(DecoderOptions{.version = kV311});
  decoder.set_version(kV5);
  std::vector<Packet> out;
  EXPECT_TRUE(decoder.feed(hex("F0 00"), out).ok());  // AUTH exists in v5 only
  EXPECT_EQ(out.size(), 1u);
}

TEST(MqttDecoder, ErrorIsStickyAndEarlierPacketsAreKept) {
  Decoder decoder(DecoderOptions{.version = kV311});
  std::vector<Packet> out;
  const CodecStatus first = decoder.feed(hex("C0 00 D0 00 C1 00 C0 00"), out);
  EXPECT_EQ(first.error, CodecError::kInvalidFlags);
  EXPECT_EQ(out.size(), 2u);  // PINGREQ, PINGRESP
  EXPECT_EQ(decoder.status(), first);
  EXPECT_EQ(decoder.feed(hex("C0 00"), out), first);
  EXPECT_EQ(out.size(), 2u);
}

TEST(MqttDecoder, KeepsPacketsAlreadyInTheVector) {
  std::vector<Packet> out{Pingresp{}};
  Decoder decoder(DecoderOptions{.version = kV311});
  ASSERT_TRUE(decoder.feed(hex("C0 00"), out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_TRUE(out[1] == Packet(Pingreq{}));
}

TEST(MqttDecoder, MaximumSizeCountsTheWholePacket) {
  // PUBLISH of exactly 20 bytes: 2 header bytes + 18.
  const std::string packet = hex("30 12 00 01") + "t" + std::string(15, 'x');
  ASSERT_EQ(packet.size(), 20u);
  EXPECT_EQ(testing::decode(packet, kV311, 20).status.error, CodecError::kNone);
  EXPECT_EQ(testing::decode(packet, kV311, 19).status.error, CodecError::kPacketTooLarge);
}

TEST(MqttDecoder, TooLargeIsDetectedFromTheFixedHeaderBeforeBuffering) {
  Decoder decoder(DecoderOptions{.max_packet_size = 1000, .version = kV311});
  std::vector<Packet> out;
  // PUBLISH announcing 2,097,152 bytes; only the header is sent.
  const CodecStatus s = decoder.feed(hex("30 80 80 80 01"), out);
  EXPECT_EQ(s.error, CodecError::kPacketTooLarge);
  EXPECT_NE(s.message.find("2097157 bytes"), std::string::npos) << s.message;
  EXPECT_EQ(decoder.buffer_capacity(), 0u);
  EXPECT_EQ(decoder.buffered_bytes(), 5u);
}

TEST(MqttDecoder, BufferGrowsWithTheBytesReceivedNotTheAnnouncedSize) {
  Decoder decoder(DecoderOptions{.max_packet_size = kMaxPacketSize, .version = kV311});
  std::vector<Packet> out;
  // The largest Remaining Length there is, then 10 bytes of it.
  ASSERT_TRUE(decoder.feed(hex("30 FF FF FF 7F 00 01 74") + "1234567", out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(decoder.buffered_bytes(), 15u);
  EXPECT_LT(decoder.buffer_capacity(), 4096u);
}

TEST(MqttDecoder, NeverBuffersMoreThanThePacket) {
  const std::string payload(100'000, 'p');
  const std::string stream = testing::encode_ok(Publish{.topic = "big", .payload = payload}, kV311);
  Decoder decoder(DecoderOptions{.max_packet_size = stream.size(), .version = kV311});
  std::vector<Packet> out;
  for (std::size_t at = 0; at < stream.size(); at += 777) {
    ASSERT_TRUE(decoder.feed(std::string_view(stream).substr(at, 777), out).ok());
    EXPECT_LE(decoder.buffer_capacity(), stream.size());
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(std::get<Publish>(out[0]).payload, payload);
  EXPECT_EQ(decoder.buffer_capacity(), 0u);  // released: over 64 KiB
}

// Encodes a QoS 0 PUBLISH whose Remaining Length is exactly `remaining`.
std::string publish_with_remaining_length(std::size_t remaining) {
  Publish p{.topic = "t", .payload = std::string(remaining - 3, 'x')};  // 3: "00 01 t"
  return testing::encode_ok(p, kV311);
}

TEST(MqttDecoder, RemainingLengthBoundaries) {
  struct Case {
    std::size_t remaining;
    std::string header;
  };
  const Case cases[] = {
      {127, hex("30 7F")},         {128, hex("30 80 01")},        {16383, hex("30 FF 7F")},
      {16384, hex("30 80 80 01")}, {2097151, hex("30 FF FF 7F")}, {2097152, hex("30 80 80 80 01")},
  };
  for (const Case& c : cases) {
    const std::string bytes = publish_with_remaining_length(c.remaining);
    ASSERT_EQ(bytes.size(), c.header.size() + c.remaining);
    EXPECT_EQ(testing::to_hex(bytes.substr(0, c.header.size())), testing::to_hex(c.header))
        << c.remaining;
    const auto d = testing::decode(bytes, kV311);
    ASSERT_TRUE(d.status.ok()) << c.remaining << ": " << d.status.to_string();
    ASSERT_EQ(d.packets.size(), 1u);
    EXPECT_EQ(std::get<Publish>(d.packets[0]).payload.size(), c.remaining - 3);
  }
}

TEST(MqttDecoder, LargestRemainingLengthIsAcceptedAndFiveBytesAreNot) {
  // 268,435,455 = FF FF FF 7F: accepted when the limit allows it (body never sent here).
  EXPECT_EQ(testing::decode(hex("30 FF FF FF 7F"), kV311, kMaxPacketSize).status.error,
            CodecError::kNone);
  EXPECT_EQ(
      testing::decode(hex("30 FF FF FF 7F"), kV311, DecoderOptions{}.max_packet_size).status.error,
      CodecError::kPacketTooLarge);
  // A fifth length byte is never valid, whatever follows.
  EXPECT_EQ(testing::decode(hex("30 FF FF FF FF 7F"), kV311, kMaxPacketSize).status.error,
            CodecError::kMalformedRemainingLength);
  EXPECT_EQ(testing::decode(hex("30 80 80 80 80 01"), kV311, kMaxPacketSize).status.error,
            CodecError::kMalformedRemainingLength);
  // ...and is caught before it arrives in full: after the fourth continuation byte.
  EXPECT_EQ(testing::decode(hex("30 80 80 80 80"), kV311, kMaxPacketSize).status.error,
            CodecError::kMalformedRemainingLength);
}

TEST(MqttDecoder, EncoderEnforcesTheMaximumPacketSize) {
  std::string out;
  const std::string bytes = publish_with_remaining_length(16384);
  EXPECT_EQ(encode(Publish{.topic = "t", .payload = std::string(16381, 'x')}, kV311, out,
                   bytes.size() - 1)
                .error,
            CodecError::kPacketTooLarge);
  EXPECT_TRUE(
      encode(Publish{.topic = "t", .payload = std::string(16381, 'x')}, kV311, out, bytes.size())
          .ok());
  EXPECT_EQ(out, bytes);
}

}  // namespace
}  // namespace holdfast::mqtt
