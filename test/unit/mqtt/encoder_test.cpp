// The encoder: what it refuses, and that encode/decode round-trip for every packet type.

#include "protocols/mqtt/encoder.h"

#include <gtest/gtest.h>

#include "test/unit/mqtt/mqtt_test_util.h"

namespace holdfast::mqtt {
namespace {

using testing::encode_error;
using testing::hex;
using testing::kV31;
using testing::kV311;
using testing::kV5;

TEST(MqttEncoder, AppendsToTheBuffer) {
  std::string out = "xy";
  ASSERT_TRUE(encode(Pingreq{}, kV311, out).ok());
  ASSERT_TRUE(encode(Pingresp{}, kV311, out).ok());
  EXPECT_EQ(out, "xy" + hex("C0 00 D0 00"));
}

TEST(MqttEncoder, RefusesWhatTheDecoderWouldRefuse) {
  EXPECT_EQ(encode_error(Publish{.topic = "a/+"}, kV311), CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Publish{.topic = ""}, kV311), CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Publish{.topic = "a\xFF"}, kV311), CodecError::kInvalidUtf8);
  EXPECT_EQ(encode_error(Publish{.qos = QoS::kAtLeastOnce, .topic = "t"}, kV311),
            CodecError::kProtocolError);  // packet id 0
  EXPECT_EQ(encode_error(Publish{.dup = true, .topic = "t"}, kV311), CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Publish{.qos = static_cast<QoS>(3), .topic = "t", .packet_id = 1}, kV311),
            CodecError::kMalformedPacket);
  EXPECT_EQ(encode_error(Puback{}, kV311), CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Subscribe{.packet_id = 1}, kV311), CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Unsubscribe{.packet_id = 1, .filters = {""}}, kV311),
            CodecError::kProtocolError);
  EXPECT_EQ(
      encode_error(Suback{.packet_id = 1, .reason_codes = {static_cast<ReasonCode>(3)}}, kV311),
      CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Connect{.version = ProtocolVersion::kV311, .password = "p"}, kV311),
            CodecError::kProtocolError);
  EXPECT_EQ(encode_error(
                Connack{.session_present = true, .reason_code = ReasonCode::kNotAuthorized}, kV311),
            CodecError::kProtocolError);
  EXPECT_EQ(encode_error(Puback{.packet_id = 1, .reason_code = ReasonCode::kGrantedQos1}, kV5),
            CodecError::kProtocolError);
}

TEST(MqttEncoder, RefusesPropertiesNotAllowedInThePacket) {
  Publish p{.topic = "t"};
  p.properties.session_expiry_interval = 1;
  EXPECT_EQ(encode_error(p, kV5), CodecError::kMalformedPacket);
  // Ignored, like every property, below MQTT 5.
  EXPECT_EQ(testing::encode_ok(p, kV311), hex("30 03 00 01 74"));

  Subscribe s{.packet_id = 1, .subscriptions = {{.filter = "t"}}};
  s.properties.subscription_identifiers = {1, 2};
  EXPECT_EQ(encode_error(s, kV5), CodecError::kProtocolError);
  s.properties.subscription_identifiers = {0};
  EXPECT_EQ(encode_error(s, kV5), CodecError::kProtocolError);
  s.properties.subscription_identifiers = {268'435'456};
  EXPECT_EQ(encode_error(s, kV5), CodecError::kProtocolError);

  Connack c;
  c.properties.maximum_qos = 2;
  EXPECT_EQ(encode_error(c, kV5), CodecError::kProtocolError);
}

TEST(MqttEncoder, RefusesFieldsOver65535Bytes) {
  const std::string big(65536, 'a');
  EXPECT_EQ(encode_error(Publish{.topic = big}, kV311), CodecError::kInvalidArgument);
  EXPECT_EQ(encode_error(Connect{.version = ProtocolVersion::kV311, .client_id = big}, kV311),
            CodecError::kInvalidArgument);
  Disconnect d{.reason_code = ReasonCode::kUnspecifiedError};
  d.properties.reason_string = big;
  EXPECT_EQ(encode_error(d, kV5), CodecError::kInvalidArgument);
  // 65535 is fine; the payload has no such limit.
  EXPECT_TRUE(
      testing::decode_one(
          testing::encode_ok(Publish{.topic = std::string(65535, 'a'), .payload = big}, kV311),
          kV311) == Packet(Publish{.topic = std::string(65535, 'a'), .payload = big}));
}

TEST(MqttEncoder, AuthOnlyInV5AndConnectOnlyForItsOwnLevel) {
  EXPECT_EQ(encode_error(Auth{}, kV311), CodecError::kInvalidArgument);
  EXPECT_EQ(encode_error(Connect{.version = ProtocolVersion::kV5}, kV311),
            CodecError::kInvalidArgument);
}

TEST(MqttEncoder, MaximumPacketSize) {
  const Publish p{.topic = "t", .payload = "12345"};  // 2 + 3 + 5 = 10 bytes
  std::string out;
  EXPECT_EQ(encode(p, kV311, out, 9).error, CodecError::kPacketTooLarge);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(encode(p, kV311, out, 10).ok());
  EXPECT_EQ(out.size(), 10u);
}

TEST(MqttEncoder, QosZeroPublishHasNoPacketId) {
  EXPECT_EQ(testing::encode_ok(Publish{.topic = "t", .packet_id = 7}, kV311),
            hex("30 03 00 01 74"));
}

TEST(MqttEncoder, ConnackBelowV5UsesReturnCodes) {
  EXPECT_EQ(testing::encode_ok(Connack{.reason_code = ReasonCode::kBanned}, kV311),
            hex("20 02 00 05"));
  EXPECT_EQ(testing::encode_ok(Connack{.reason_code = ReasonCode::kQuotaExceeded}, kV311),
            hex("20 02 00 03"));
  EXPECT_EQ(
      testing::encode_ok(Connack{.reason_code = ReasonCode::kUnsupportedProtocolVersion}, kV311),
      hex("20 02 00 01"));
}

// One example of every packet type, with MQTT 5 fields filled in.
std::vector<Packet> every_packet(ProtocolVersion version) {
  const bool v5 = version == ProtocolVersion::kV5;
  Properties user;
  if (v5) user.user_properties = {{"k", "v"}};
  Connect connect{
      .version = version,
      .client_id = "client",
      .clean_start = false,
      .keep_alive = 65535,
      .username = "user",
      .password = std::string("\x00\x01", 2),
      .will = Will{.topic = "will", .payload = "gone", .qos = QoS::kExactlyOnce, .retain = true}};
  Connack connack{.session_present = version != ProtocolVersion::kV31};
  Publish publish{.dup = true,
                  .qos = QoS::kAtLeastOnce,
                  .retain = true,
                  .topic = "a/b/c",
                  .packet_id = 65535,
                  .payload = std::string(300, '\xAB')};
  Subscribe subscribe{.packet_id = 2,
                      .subscriptions = {{.filter = "a/+/c", .qos = QoS::kAtLeastOnce},
                                        {.filter = "#", .qos = QoS::kExactlyOnce}}};
  Suback suback{.packet_id = 2,
                .reason_codes = {ReasonCode::kGrantedQos1, ReasonCode::kUnspecifiedError}};
  Unsuback unsuback{.packet_id = 3};
  Disconnect disconnect;
  if (v5) {
    connect.properties.session_expiry_interval = 60;
    connect.will->properties.will_delay_interval = 5;
    connack.properties.assigned_client_identifier = "auto";
    publish.properties.response_topic = "reply";
    subscribe.subscriptions[0].no_local = true;
    subscribe.subscriptions[1].retain_handling = RetainHandling::kSendAtSubscribeIfNew;
    subscribe.properties.subscription_identifiers = {42};
    unsuback.reason_codes = {ReasonCode::kNoSubscriptionExisted};
    disconnect.reason_code = ReasonCode::kKeepAliveTimeout;
  }
  std::vector<Packet> packets{
      connect,
      connack,
      publish,
      Puback{.packet_id = 1,
             .reason_code = v5 ? ReasonCode::kQuotaExceeded : ReasonCode::kSuccess,
             .properties = user},
      Pubrec{.packet_id = 1, .properties = user},
      Pubrel{.packet_id = 1, .properties = user},
      Pubcomp{.packet_id = 1, .properties = user},
      subscribe,
      suback,
      Unsubscribe{.packet_id = 3, .filters = {"a/+/c", "#"}, .properties = user},
      unsuback,
      Pingreq{},
      Pingresp{},
      disconnect,
  };
  if (v5) packets.push_back(Auth{.reason_code = ReasonCode::kReAuthenticate, .properties = user});
  return packets;
}

TEST(MqttEncoder, EveryPacketRoundTripsAtEveryLevel) {
  for (ProtocolVersion version : {kV31, kV311, kV5}) {
    for (const Packet& packet : every_packet(version)) {
      const std::string bytes = testing::encode_ok(packet, version);
      const std::optional<ProtocolVersion> start = std::holds_alternative<Connect>(packet)
                                                       ? std::nullopt
                                                       : std::optional<ProtocolVersion>(version);
      const Packet decoded = testing::decode_one(bytes, start);
      EXPECT_TRUE(decoded == packet)
          << packet_type_name(packet_type(packet)) << " at level " << protocol_version_name(version)
          << ": " << testing::to_hex(bytes);
      EXPECT_EQ(testing::encode_ok(decoded, version), bytes);
    }
  }
}

TEST(MqttEncoder, PacketTypeFollowsTheVariant) {
  const auto packets = every_packet(kV5);
  ASSERT_EQ(packets.size(), 15u);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    EXPECT_EQ(static_cast<std::size_t>(packet_type(packets[i])), i + 1);
    const std::string bytes = testing::encode_ok(packets[i], kV5);
    EXPECT_EQ(static_cast<std::uint8_t>(bytes[0]) >> 4, static_cast<int>(i + 1));
  }
}

}  // namespace
}  // namespace holdfast::mqtt
