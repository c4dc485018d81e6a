// Known-good MQTT 5.0 packets, byte for byte as the OASIS MQTT 5.0 specification lays them out,
// in both directions; and every property through the codec.

#include <gtest/gtest.h>

#include "test/unit/mqtt/mqtt_test_util.h"

namespace holdfast::mqtt {
namespace {

using testing::expect_codec;
using testing::hex;
using testing::kV5;

// MQTT 5.0 section 3.1.2.12, figure 3-6: level 5, flags 0xCE, keep alive 10, properties of
// length 5 holding Session Expiry Interval 10. Payload as section 3.1.3, with will properties
// (Payload Format Indicator 1) before the will topic.
TEST(MqttV5, ConnectFromSpecificationExample) {
  const std::string bytes = hex("10 27 00 04") + "MQTT" + hex("05 CE 00 0A") +
                            hex("05 11 00 00 00 0A") +                     // properties
                            hex("00 02") + "c1" +                          // client id
                            hex("02 01 01") +                              // will properties
                            hex("00 03") + "w/t" + hex("00 03") + "bye" +  // will topic, payload
                            hex("00 01") + "u" + hex("00 01") + "p";
  Connect c{.version = ProtocolVersion::kV5,
            .client_id = "c1",
            .keep_alive = 10,
            .username = "u",
            .password = "p",
            .will = Will{.topic = "w/t", .payload = "bye", .qos = QoS::kAtLeastOnce}};
  c.properties.session_expiry_interval = 10;
  c.will->properties.payload_format_indicator = 1;
  expect_codec(bytes, c, kV5);
}

TEST(MqttV5, ConnectWithPasswordButNoUserName) {
  // Allowed from MQTT 5 on (section 3.1.2.9).
  Connect c{.version = ProtocolVersion::kV5, .client_id = "", .password = "secret"};
  expect_codec(hex("10 15 00 04") + "MQTT" + hex("05 42 00 00 00 00 00 00 06") + "secret", c, kV5);
}

TEST(MqttV5, ConnectProperties) {
  Connect c{.version = ProtocolVersion::kV5, .client_id = "d"};
  c.properties.receive_maximum = 20;
  c.properties.topic_alias_maximum = 10;
  c.properties.maximum_packet_size = 4096;
  c.properties.request_problem_information = false;
  c.properties.user_properties = {{"k", "v"}};
  // Identifier order: 0x17, 0x21, 0x22, 0x26, 0x27.
  const std::string props =
      hex("17 00  21 00 14  22 00 0A  26 00 01") + "k" + hex("00 01") + "v" + hex("27 00 00 10 00");
  ASSERT_EQ(props.size(), 0x14u);
  expect_codec(hex("10 22 00 04") + "MQTT" + hex("05 02 00 00 14") + props + hex("00 01") + "d", c,
               kV5);
}

TEST(MqttV5, ConnackWithProperties) {
  Connack c{.session_present = true};
  c.properties.receive_maximum = 10;
  c.properties.maximum_qos = 1;
  c.properties.retain_available = false;
  expect_codec(hex("20 0A 01 00 07 21 00 0A 24 01 25 00"), c, kV5);
}

TEST(MqttV5, ConnackRefusalCarriesTheReasonCodeAsIs) {
  expect_codec(hex("20 03 00 8C 00"), Connack{.reason_code = ReasonCode::kBadAuthenticationMethod},
               kV5);
}

TEST(MqttV5, ConnackOfTwoBytesIsAccepted) {
  EXPECT_TRUE(testing::decode_one(hex("20 02 00 00"), kV5) == Packet(Connack{}));
}

TEST(MqttV5, PublishWithProperties) {
  Publish p{.qos = QoS::kAtLeastOnce, .topic = "a/b", .packet_id = 10, .payload = "hello"};
  p.properties.payload_format_indicator = 1;
  p.properties.message_expiry_interval = 60;
  p.properties.subscription_identifiers = {7};
  p.properties.topic_alias = 5;
  expect_codec(hex("32 19 00 03") + "a/b" + hex("00 0A") +
                   hex("0C 01 01 02 00 00 00 3C 0B 07 23 00 05") + "hello",
               p, kV5);
}

TEST(MqttV5, PublishWithTopicAliasAndNoTopicName) {
  Publish p{.topic = "", .payload = "x"};
  p.properties.topic_alias = 1;
  expect_codec(hex("30 07 00 00 03 23 00 01") + "x", p, kV5);
}

TEST(MqttV5, PublishWithEveryPublishProperty) {
  Publish p{.qos = QoS::kExactlyOnce, .topic = "req", .packet_id = 3, .payload = "{}"};
  p.properties.content_type = "application/json";
  p.properties.response_topic = "resp/1";
  p.properties.correlation_data = std::string("\x00\x01\x02", 3);
  p.properties.subscription_identifiers = {1, 268'435'455};  // a server may send several
  p.properties.user_properties = {{"a", "1"}, {"a", "2"}, {"b", ""}};
  Packet decoded = testing::decode_one(testing::encode_ok(p, kV5), kV5);
  EXPECT_TRUE(decoded == Packet(p));
}

TEST(MqttV5, PublishResponsesShortestForm) {
  // Section 3.4.2.1: reason code and properties left out when Success without properties.
  expect_codec(hex("40 02 00 0A"), Puback{.packet_id = 10}, kV5);
  expect_codec(hex("50 03 00 0A 10"),
               Pubrec{.packet_id = 10, .reason_code = ReasonCode::kNoMatchingSubscribers}, kV5);
  expect_codec(hex("62 03 00 0A 92"),
               Pubrel{.packet_id = 10, .reason_code = ReasonCode::kPacketIdentifierNotFound}, kV5);
  expect_codec(hex("70 02 00 0A"), Pubcomp{.packet_id = 10}, kV5);
}

TEST(MqttV5, PubackWithReasonString) {
  Puback p{.packet_id = 10, .reason_code = ReasonCode::kNoMatchingSubscribers};
  p.properties.reason_string = "x";
  expect_codec(hex("40 08 00 0A 10 04 1F 00 01") + "x", p, kV5);
}

TEST(MqttV5, PublishResponsesAcceptEveryOptionalForm) {
  // Reason code present but Success, and an empty property list: all the same packet.
  EXPECT_TRUE(testing::decode_one(hex("40 03 00 0A 00"), kV5) == Packet(Puback{.packet_id = 10}));
  EXPECT_TRUE(testing::decode_one(hex("40 04 00 0A 00 00"), kV5) ==
              Packet(Puback{.packet_id = 10}));
}

TEST(MqttV5, SubscribeWithOptionsAndIdentifier) {
  // Options 0x2D: retain handling 2, retain as published, no local, QoS 1.
  Subscribe s{.packet_id = 1,
              .subscriptions = {{.filter = "a/b",
                                 .qos = QoS::kAtLeastOnce,
                                 .no_local = true,
                                 .retain_as_published = true,
                                 .retain_handling = RetainHandling::kDoNotSend}}};
  s.properties.subscription_identifiers = {5};
  expect_codec(hex("82 0B 00 01 02 0B 05 00 03") + "a/b" + hex("2D"), s, kV5);
}

TEST(MqttV5, Suback) {
  expect_codec(hex("90 07 00 01 00 00 02 8F A2"),
               Suback{.packet_id = 1,
                      .reason_codes = {ReasonCode::kGrantedQos0, ReasonCode::kGrantedQos2,
                                       ReasonCode::kTopicFilterInvalid,
                                       ReasonCode::kWildcardSubscriptionsNotSupported}},
               kV5);
}

TEST(MqttV5, UnsubscribeAndUnsuback) {
  Unsubscribe u{.packet_id = 2, .filters = {"a/b"}};
  u.properties.user_properties = {{"k", "v"}};
  expect_codec(hex("A2 0F 00 02 07 26 00 01") + "k" + hex("00 01") + "v" + hex("00 03") + "a/b", u,
               kV5);
  expect_codec(hex("B0 05 00 02 00 00 11"),
               Unsuback{.packet_id = 2,
                        .reason_codes = {ReasonCode::kSuccess, ReasonCode::kNoSubscriptionExisted}},
               kV5);
}

TEST(MqttV5, Disconnect) {
  expect_codec(hex("E0 00"), Disconnect{}, kV5);
  expect_codec(hex("E0 01 04"), Disconnect{.reason_code = ReasonCode::kDisconnectWithWillMessage},
               kV5);
  Disconnect d{.reason_code = ReasonCode::kSessionTakenOver};
  d.properties.session_expiry_interval = 0;
  expect_codec(hex("E0 07 8E 05 11 00 00 00 00"), d, kV5);
  d = Disconnect{.reason_code = ReasonCode::kUseAnotherServer};
  d.properties.server_reference = "other:1883";
  expect_codec(hex("E0 0F 9C 0D 1C 00 0A") + "other:1883", d, kV5);
}

TEST(MqttV5, Auth) {
  expect_codec(hex("F0 00"), Auth{}, kV5);
  Auth a{.reason_code = ReasonCode::kContinueAuthentication};
  a.properties.authentication_method = "PLAIN";
  a.properties.authentication_data = "ab";
  expect_codec(hex("F0 0F 18 0D 15 00 05") + "PLAIN" + hex("16 00 02") + "ab", a, kV5);
}

TEST(MqttV5, PingIsTheSame) {
  expect_codec(hex("C0 00"), Pingreq{}, kV5);
  expect_codec(hex("D0 00"), Pingresp{}, kV5);
}

TEST(MqttV5, EveryConnackProperty) {
  Connack c;
  Properties& p = c.properties;
  p.session_expiry_interval = 0xFFFFFFFF;
  p.assigned_client_identifier = "auto-1";
  p.server_keep_alive = 30;
  p.authentication_method = "SCRAM-SHA-1";
  p.authentication_data = std::string("\x00\xFF", 2);
  p.response_information = "info";
  p.server_reference = "srv";
  p.reason_string = "why";
  p.receive_maximum = 65535;
  p.topic_alias_maximum = 0;
  p.maximum_qos = 0;
  p.retain_available = true;
  p.user_properties = {{"x", "y"}};
  p.maximum_packet_size = 1;
  p.wildcard_subscription_available = false;
  p.subscription_identifiers_available = true;
  p.shared_subscription_available = false;
  EXPECT_TRUE(testing::decode_one(testing::encode_ok(c, kV5), kV5) == Packet(c));
}

TEST(MqttV5, EveryWillProperty) {
  Connect c{.version = ProtocolVersion::kV5, .client_id = "w"};
  c.will = Will{.topic = "last/words", .payload = "bye", .qos = QoS::kExactlyOnce, .retain = true};
  Properties& p = c.will->properties;
  p.payload_format_indicator = 0;
  p.message_expiry_interval = 10;
  p.content_type = "text/plain";
  p.response_topic = "r";
  p.correlation_data = "c";
  p.will_delay_interval = 5;
  p.user_properties = {{"k", "v"}};
  c.properties.request_response_information = true;
  c.properties.authentication_method = "m";
  c.properties.authentication_data = "d";
  EXPECT_TRUE(testing::decode_one(testing::encode_ok(c, kV5), std::nullopt) == Packet(c));
}

TEST(MqttV5, PropertiesMayComeInAnyOrder) {
  // Topic Alias before Payload Format Indicator; the codec writes identifier order.
  Publish p{.topic = "t"};
  p.properties.payload_format_indicator = 0;
  p.properties.topic_alias = 2;
  EXPECT_TRUE(testing::decode_one(hex("30 09 00 01 74 05 23 00 02 01 00"), kV5) == Packet(p));
}

TEST(MqttV5, NonMinimalVariableByteIntegersAreAccepted) {
  // Remaining length 2 written in two bytes, property length 0 written in two bytes.
  EXPECT_TRUE(testing::decode_one(hex("40 82 00 00 0A"), kV5) == Packet(Puback{.packet_id = 10}));
  EXPECT_TRUE(testing::decode_one(hex("30 06 00 01 74 80 00 78"), kV5) ==
              Packet(Publish{.topic = "t", .payload = "x"}));
}

}  // namespace
}  // namespace holdfast::mqtt
