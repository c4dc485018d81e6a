// Known-good MQTT 3.1 and 3.1.1 packets, byte for byte as the OASIS 3.1.1 specification (and
// the IBM 3.1 specification) lay them out, in both directions.

#include <gtest/gtest.h>

#include "test/unit/mqtt/mqtt_test_util.h"

namespace holdfast::mqtt {
namespace {

using testing::expect_codec;
using testing::hex;
using testing::kV31;
using testing::kV311;

// MQTT 3.1.1 section 3.1.2.10, figure 3.6: protocol name "MQTT", level 4, flags 0xCE (user
// name, password, will QoS 1, will, clean session), keep alive 10; then the payload in the
// order of section 3.1.3.
TEST(MqttV311, ConnectFromSpecificationExample) {
  const std::string bytes = hex("10 1E 00 04") + "MQTT" + hex("04 CE 00 0A") +  //
                            hex("00 02") + "c1" +                               // client id
                            hex("00 03") + "w/t" +                              // will topic
                            hex("00 03") + "bye" +                              // will message
                            hex("00 01") + "u" +                                // user name
                            hex("00 01") + "p";                                 // password
  Connect c{.version = ProtocolVersion::kV311,
            .client_id = "c1",
            .clean_start = true,
            .keep_alive = 10,
            .username = "u",
            .password = "p",
            .will = Will{.topic = "w/t", .payload = "bye", .qos = QoS::kAtLeastOnce}};
  expect_codec(bytes, c, kV311);
}

TEST(MqttV311, MinimalConnect) {
  // Clean session, no will, no credentials, keep-alive 60, empty client id.
  expect_codec(hex("10 0C 00 04") + "MQTT" + hex("04 02 00 3C 00 00"),
               Connect{.version = ProtocolVersion::kV311, .keep_alive = 60}, kV311);
}

TEST(MqttV311, ConnectWithRetainedQos2WillAndNoCleanSession) {
  // Flags 0x34: will retain, will QoS 2, will flag.
  const std::string bytes = hex("10 14 00 04") + "MQTT" + hex("04 34 00 00") + hex("00 01") + "x" +
                            hex("00 01") + "t" + hex("00 02 00 FF");
  Connect c{.version = ProtocolVersion::kV311,
            .client_id = "x",
            .clean_start = false,
            .will = Will{.topic = "t",
                         .payload = std::string("\x00\xFF", 2),
                         .qos = QoS::kExactlyOnce,
                         .retain = true}};
  expect_codec(bytes, c, kV311);
}

TEST(MqttV31, ConnectUsesMQIsdpLevel3) {
  expect_codec(hex("10 12 00 06") + "MQIsdp" + hex("03 02 00 3C 00 04") + "test",
               Connect{.version = ProtocolVersion::kV31, .client_id = "test", .keep_alive = 60},
               kV31);
}

TEST(MqttV311, Connack) {
  expect_codec(hex("20 02 00 00"), Connack{}, kV311);
  expect_codec(hex("20 02 01 00"), Connack{.session_present = true}, kV311);
}

TEST(MqttV311, ConnackReturnCodesMapToReasonCodes) {
  const ReasonCode expected[] = {ReasonCode::kSuccess,
                                 ReasonCode::kUnsupportedProtocolVersion,
                                 ReasonCode::kClientIdentifierNotValid,
                                 ReasonCode::kServerUnavailable,
                                 ReasonCode::kBadUserNameOrPassword,
                                 ReasonCode::kNotAuthorized};
  for (int code = 0; code <= 5; ++code) {
    std::string bytes = hex("20 02 00");
    bytes.push_back(static_cast<char>(code));
    expect_codec(bytes, Connack{.reason_code = expected[code]}, kV311);
  }
}

TEST(MqttV31, ConnackHasNoSessionPresent) {
  expect_codec(hex("20 02 00 02"), Connack{.reason_code = ReasonCode::kClientIdentifierNotValid},
               kV31);
  // The first byte was "reserved, not used" in 3.1: whatever is there is ignored...
  EXPECT_TRUE(testing::decode_one(hex("20 02 01 00"), kV31) == Packet(Connack{}));
  // ...and never written.
  EXPECT_EQ(testing::encode_ok(Connack{.session_present = true}, kV31), hex("20 02 00 00"));
}

TEST(MqttV311, PublishQos0) {
  expect_codec(hex("30 0A 00 03") + "a/b" + "hello", Publish{.topic = "a/b", .payload = "hello"},
               kV311);
}

TEST(MqttV311, PublishQos1WithPacketId) {
  // MQTT 3.1.1 section 3.3.2.3, figure 3.11: topic "a/b", packet identifier 10.
  expect_codec(
      hex("32 0C 00 03") + "a/b" + hex("00 0A") + "hello",
      Publish{.qos = QoS::kAtLeastOnce, .topic = "a/b", .packet_id = 10, .payload = "hello"},
      kV311);
}

TEST(MqttV311, PublishQos2DupRetainEmptyPayload) {
  expect_codec(hex("3D 07 00 03") + "a/b" + hex("FF FF"),
               Publish{.dup = true,
                       .qos = QoS::kExactlyOnce,
                       .retain = true,
                       .topic = "a/b",
                       .packet_id = 0xFFFF},
               kV311);
}

TEST(MqttV311, PublishResponses) {
  expect_codec(hex("40 02 00 0A"), Puback{.packet_id = 10}, kV311);
  expect_codec(hex("50 02 00 0A"), Pubrec{.packet_id = 10}, kV311);
  expect_codec(hex("62 02 00 0A"), Pubrel{.packet_id = 10}, kV311);
  expect_codec(hex("70 02 00 0A"), Pubcomp{.packet_id = 10}, kV311);
}

TEST(MqttV311, Subscribe) {
  // Section 3.8.3.1, figure 3.23 style: two filters with QoS 1 and 2.
  expect_codec(hex("82 0E 00 01 00 03") + "a/b" + hex("01 00 03") + "c/#" + hex("02"),
               Subscribe{.packet_id = 1,
                         .subscriptions = {{.filter = "a/b", .qos = QoS::kAtLeastOnce},
                                           {.filter = "c/#", .qos = QoS::kExactlyOnce}}},
               kV311);
}

TEST(MqttV311, Suback) {
  // Section 3.9.3, figure 3.26: success QoS 0, success QoS 2, failure.
  expect_codec(hex("90 05 00 01 00 02 80"),
               Suback{.packet_id = 1,
                      .reason_codes = {ReasonCode::kGrantedQos0, ReasonCode::kGrantedQos2,
                                       ReasonCode::kUnspecifiedError}},
               kV311);
}

TEST(MqttV311, SubackSendsEveryFailureAs0x80) {
  EXPECT_EQ(testing::encode_ok(
                Suback{.packet_id = 1,
                       .reason_codes = {ReasonCode::kNotAuthorized, ReasonCode::kGrantedQos1}},
                kV311),
            hex("90 04 00 01 80 01"));
}

TEST(MqttV311, Unsubscribe) {
  expect_codec(hex("A2 0C 00 02 00 03") + "a/b" + hex("00 03") + "c/d",
               Unsubscribe{.packet_id = 2, .filters = {"a/b", "c/d"}}, kV311);
}

TEST(MqttV311, UnsubackHasNoReasonCodes) {
  expect_codec(hex("B0 02 00 02"), Unsuback{.packet_id = 2}, kV311);
  // MQTT 5 reason codes are not sent below level 5.
  EXPECT_EQ(
      testing::encode_ok(Unsuback{.packet_id = 2, .reason_codes = {ReasonCode::kSuccess}}, kV311),
      hex("B0 02 00 02"));
}

TEST(MqttV311, PingAndDisconnect) {
  expect_codec(hex("C0 00"), Pingreq{}, kV311);
  expect_codec(hex("D0 00"), Pingresp{}, kV311);
  expect_codec(hex("E0 00"), Disconnect{}, kV311);
}

TEST(MqttV311, MqttFiveOnlyFieldsAreNotWritten) {
  Properties props;
  props.reason_string = "ignored";
  props.user_properties = {{"k", "v"}};
  EXPECT_EQ(testing::encode_ok(Puback{.packet_id = 10,
                                      .reason_code = ReasonCode::kNoMatchingSubscribers,
                                      .properties = props},
                               kV311),
            hex("40 02 00 0A"));
  EXPECT_EQ(testing::encode_ok(Disconnect{.reason_code = ReasonCode::kServerShuttingDown}, kV311),
            hex("E0 00"));
  EXPECT_EQ(testing::encode_ok(Subscribe{.packet_id = 1,
                                         .subscriptions = {{.filter = "t",
                                                            .qos = QoS::kAtLeastOnce,
                                                            .no_local = true,
                                                            .retain_as_published = true}}},
                               kV311),
            hex("82 06 00 01 00 01 74 01"));
}

TEST(MqttV31, AllOtherPacketsMatchV311) {
  expect_codec(
      hex("32 0C 00 03") + "a/b" + hex("00 0A") + "hello",
      Publish{.qos = QoS::kAtLeastOnce, .topic = "a/b", .packet_id = 10, .payload = "hello"}, kV31);
  expect_codec(hex("62 02 00 0A"), Pubrel{.packet_id = 10}, kV31);
  expect_codec(
      hex("82 06 00 01 00 01") + "t" + hex("01"),
      Subscribe{.packet_id = 1, .subscriptions = {{.filter = "t", .qos = QoS::kAtLeastOnce}}},
      kV31);
  expect_codec(hex("90 03 00 01 01"),
               Suback{.packet_id = 1, .reason_codes = {ReasonCode::kGrantedQos1}}, kV31);
  expect_codec(hex("C0 00"), Pingreq{}, kV31);
  expect_codec(hex("E0 00"), Disconnect{}, kV31);
}

TEST(MqttV31, AcceptsDupAndQosBitsOnQos1Packets) {
  // MQTT 3.1 sent SUBSCRIBE, UNSUBSCRIBE and PUBREL with QoS 1 and possibly DUP; mosquitto
  // accepts any flags there from 3.1 clients, so do we.
  EXPECT_TRUE(testing::decode_one(hex("8A 06 00 01 00 01") + "t" + hex("00"), kV31) ==
              Packet(Subscribe{.packet_id = 1, .subscriptions = {{.filter = "t"}}}));
  EXPECT_TRUE(testing::decode_one(hex("6A 02 00 01"), kV31) == Packet(Pubrel{.packet_id = 1}));
}

}  // namespace
}  // namespace holdfast::mqtt
