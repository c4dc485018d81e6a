// Every kind of bad input the decoder must refuse, with the error it must give.

#include <gtest/gtest.h>

#include "test/unit/mqtt/mqtt_test_util.h"

namespace holdfast::mqtt {
namespace {

using testing::decode_error;
using testing::hex;
using testing::kV31;
using testing::kV311;
using testing::kV5;

constexpr auto kMalformed = CodecError::kMalformedPacket;
constexpr auto kProtocol = CodecError::kProtocolError;
constexpr auto kFlags = CodecError::kInvalidFlags;
constexpr auto kUtf8 = CodecError::kInvalidUtf8;

// A PUBLISH QoS 0 to `topic` (given as raw bytes) with an empty payload.
std::string publish_to(std::string_view topic) {
  std::string s = hex("30");
  s.push_back(static_cast<char>(topic.size() + 2));
  s.push_back(0);
  s.push_back(static_cast<char>(topic.size()));
  s += topic;
  return s;
}

TEST(MqttMalformed, ReservedPacketTypes) {
  EXPECT_EQ(decode_error(hex("00 00"), kV311), CodecError::kInvalidPacketType);
  EXPECT_EQ(decode_error(hex("F0 00"), kV311), CodecError::kInvalidPacketType);
  EXPECT_EQ(decode_error(hex("F0 00"), kV31), CodecError::kInvalidPacketType);
  EXPECT_EQ(decode_error(hex("F0 00"), std::nullopt), CodecError::kInvalidPacketType);
}

TEST(MqttMalformed, FixedHeaderFlags) {
  for (auto v : {kV311, kV5}) {
    EXPECT_EQ(decode_error(hex("41 02 00 01"), v), kFlags);  // PUBACK
    EXPECT_EQ(decode_error(hex("60 02 00 01"), v), kFlags);  // PUBREL must be 2
    EXPECT_EQ(decode_error(hex("63 02 00 01"), v), kFlags);
    EXPECT_EQ(decode_error(hex("80 06 00 01 00 01 74 00"), v), kFlags);  // SUBSCRIBE
    EXPECT_EQ(decode_error(hex("A0 05 00 01 00 01 74"), v), kFlags);     // UNSUBSCRIBE
    EXPECT_EQ(decode_error(hex("C8 00"), v), kFlags);                    // PINGREQ
    EXPECT_EQ(decode_error(hex("D1 00"), v), kFlags);
    EXPECT_EQ(decode_error(hex("E2 00"), v), kFlags);
    EXPECT_EQ(decode_error(hex("21 02 00 00"), v), kFlags);
  }
  EXPECT_EQ(decode_error(hex("F1 00"), kV5), kFlags);
  EXPECT_EQ(decode_error(hex("11 00"), std::nullopt), kFlags);  // CONNECT
}

TEST(MqttMalformed, FlagsAreCheckedBeforeTheBodyArrives) {
  Decoder decoder(DecoderOptions{.version = kV311});
  std::vector<Packet> out;
  EXPECT_EQ(decoder.feed(hex("C8"), out).error, kFlags);
}

TEST(MqttMalformed, PublishQos3AndDupOnQos0) {
  EXPECT_EQ(decode_error(hex("36 05 00 01 74 00 01"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("37 05 00 01 74 00 01"), kV5), kMalformed);
  EXPECT_EQ(decode_error(hex("38 03 00 01 74"), kV311), kProtocol);
}

TEST(MqttMalformed, PublishTopicWithWildcards) {
  for (auto v : {kV31, kV311}) {
    EXPECT_EQ(decode_error(publish_to("a/+"), v), kProtocol);
    EXPECT_EQ(decode_error(publish_to("a/#"), v), kProtocol);
    EXPECT_EQ(decode_error(publish_to("+"), v), kProtocol);
  }
  EXPECT_EQ(decode_error(hex("30 06 00 03") + "a/#" + hex("00"), kV5), kProtocol);
}

TEST(MqttMalformed, PublishEmptyTopicNeedsATopicAlias) {
  EXPECT_EQ(decode_error(publish_to(""), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("30 03 00 00 00"), kV5), kProtocol);  // no alias
  EXPECT_EQ(decode_error(hex("30 06 00 00 03 23 00 01"), kV5), CodecError::kNone);
}

TEST(MqttMalformed, InvalidUtf8InStrings) {
  EXPECT_EQ(decode_error(publish_to("a\xFF"
                                    "b"),
                         kV311),
            kUtf8);
  EXPECT_EQ(decode_error(publish_to(std::string("a\0b", 3)), kV311), kUtf8);  // U+0000
  EXPECT_EQ(decode_error(publish_to("\xED\xA0\x80"), kV311), kUtf8);          // U+D800
  EXPECT_EQ(decode_error(publish_to("\xED\xBF\xBF"), kV311), kUtf8);          // U+DFFF
  EXPECT_EQ(decode_error(publish_to("\xC0\xAF"), kV311), kUtf8);              // overlong '/'
  EXPECT_EQ(decode_error(publish_to("\xE0\x80\xAF"), kV311), kUtf8);          // overlong
  EXPECT_EQ(decode_error(publish_to("\xF4\x90\x80\x80"), kV311), kUtf8);      // > U+10FFFF
  EXPECT_EQ(decode_error(publish_to("\xE2\x82"), kV311), kUtf8);              // truncated
  EXPECT_EQ(decode_error(publish_to("\x80"), kV311), kUtf8);                  // lone trail
  // Fine: U+FEFF, U+10FFFF, U+0001, a 2-, 3- and 4-byte sequence.
  EXPECT_EQ(decode_error(publish_to("\xEF\xBB\xBF"
                                    "\xF4\x8F\xBF\xBF"
                                    "\x01"
                                    "\xC3\xA9"
                                    "\xE2\x82\xAC"
                                    "\xF0\x9F\x98\x80"),
                         kV311),
            CodecError::kNone);
  // The payload is binary and never checked.
  EXPECT_EQ(decode_error(hex("30 05 00 01 74 00 FF"), kV311), CodecError::kNone);
}

TEST(MqttMalformed, InvalidUtf8InEveryKindOfStringField) {
  // Client id, user name, will topic (CONNECT 3.1.1), subscribe and unsubscribe filters,
  // a v5 reason string and user property.
  EXPECT_EQ(decode_error(hex("10 0D 00 04") + "MQTT" + hex("04 02 00 00 00 01 FF"), std::nullopt),
            kUtf8);
  EXPECT_EQ(decode_error(hex("10 10 00 04") + "MQTT" + hex("04 82 00 00 00 00 00 02 C3 28"),
                         std::nullopt),
            kUtf8);
  EXPECT_EQ(decode_error(hex("10 12 00 04") + "MQTT" + hex("04 06 00 00 00 00 00 02 C3 28 00 00"),
                         std::nullopt),
            kUtf8);
  EXPECT_EQ(decode_error(hex("82 06 00 01 00 01 FF 00"), kV311), kUtf8);
  EXPECT_EQ(decode_error(hex("A2 05 00 01 00 01 FF"), kV311), kUtf8);
  EXPECT_EQ(decode_error(hex("40 08 00 01 80 04 1F 00 01 FF"), kV5), kUtf8);
  EXPECT_EQ(decode_error(hex("40 0B 00 01 80 07 26 00 01 6B 00 01 00"), kV5), kUtf8);
}

TEST(MqttMalformed, PacketIdZero) {
  EXPECT_EQ(decode_error(hex("32 05 00 01 74 00 00"), kV311), kProtocol);
  for (auto v : {kV311, kV5}) {
    EXPECT_EQ(decode_error(hex("40 02 00 00"), v), kProtocol);
    EXPECT_EQ(decode_error(hex("50 02 00 00"), v), kProtocol);
    EXPECT_EQ(decode_error(hex("62 02 00 00"), v), kProtocol);
    EXPECT_EQ(decode_error(hex("70 02 00 00"), v), kProtocol);
  }
  EXPECT_EQ(decode_error(hex("B0 02 00 00"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("B0 04 00 00 00 00"), kV5), kProtocol);
  EXPECT_EQ(decode_error(hex("82 06 00 00 00 01 74 00"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("90 03 00 00 00"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("A2 05 00 00 00 01 74"), kV311), kProtocol);
}

TEST(MqttMalformed, SubscribeWithoutFilters) {
  EXPECT_EQ(decode_error(hex("82 02 00 01"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("82 03 00 01 00"), kV5), kProtocol);
  EXPECT_EQ(decode_error(hex("A2 02 00 01"), kV311), kProtocol);   // UNSUBSCRIBE
  EXPECT_EQ(decode_error(hex("90 02 00 01"), kV311), kProtocol);   // SUBACK
  EXPECT_EQ(decode_error(hex("B0 03 00 01 00"), kV5), kProtocol);  // UNSUBACK
}

TEST(MqttMalformed, SubscribeEmptyFilter) {
  EXPECT_EQ(decode_error(hex("82 05 00 01 00 00 00"), kV311), kProtocol);
}

TEST(MqttMalformed, SubscriptionOptions) {
  EXPECT_EQ(decode_error(hex("82 06 00 01 00 01 74 03"), kV311), kMalformed);  // QoS 3
  EXPECT_EQ(decode_error(hex("82 06 00 01 00 01 74 04"), kV311), kFlags);      // v5 bit in 3.1.1
  EXPECT_EQ(decode_error(hex("82 07 00 01 00 00 01 74 03"), kV5), kMalformed);
  EXPECT_EQ(decode_error(hex("82 07 00 01 00 00 01 74 40"), kV5), kFlags);
  EXPECT_EQ(decode_error(hex("82 07 00 01 00 00 01 74 30"), kV5), kProtocol);  // retain handling 3
  // No Local on a shared subscription (MQTT-3.8.3-4).
  EXPECT_EQ(decode_error(hex("82 0F 00 01 00 00 09") + "$share/g/" + hex("04"), kV5), kProtocol);
  // Filter syntax is left to the server (it answers 0x8F in SUBACK): "$share/g/" decodes.
  EXPECT_EQ(decode_error(hex("82 0F 00 01 00 00 09") + "$share/g/" + hex("00"), kV5),
            CodecError::kNone);
}

TEST(MqttMalformed, SubackReturnCodes) {
  EXPECT_EQ(decode_error(hex("90 03 00 01 03"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("90 03 00 01 81"), kV311), kProtocol);
  EXPECT_EQ(decode_error(hex("90 04 00 01 00 03"), kV5), kProtocol);  // not a SUBACK code
}

TEST(MqttMalformed, ReasonCodesNotAllowedInThePacket) {
  EXPECT_EQ(decode_error(hex("40 03 00 01 04"), kV5), kProtocol);     // PUBACK
  EXPECT_EQ(decode_error(hex("62 03 00 01 10"), kV5), kProtocol);     // PUBREL
  EXPECT_EQ(decode_error(hex("E0 01 01"), kV5), kProtocol);           // DISCONNECT
  EXPECT_EQ(decode_error(hex("F0 01 01"), kV5), kProtocol);           // AUTH
  EXPECT_EQ(decode_error(hex("20 03 00 01 00"), kV5), kProtocol);     // CONNACK
  EXPECT_EQ(decode_error(hex("B0 04 00 01 00 02"), kV5), kProtocol);  // UNSUBACK
}

TEST(MqttMalformed, ConnackRules) {
  EXPECT_EQ(decode_error(hex("20 02 02 00"), kV311), kFlags);
  EXPECT_EQ(decode_error(hex("20 02 00 06"), kV311), kProtocol);  // reserved return code
  EXPECT_EQ(decode_error(hex("20 02 01 05"), kV311), kProtocol);  // session present + refusal
  EXPECT_EQ(decode_error(hex("20 03 01 87 00"), kV5), kProtocol);
  EXPECT_EQ(decode_error(hex("20 03 00 00 00"), kV311), kMalformed);  // trailing byte
  EXPECT_EQ(decode_error(hex("20 01 00"), kV311), kMalformed);
}

TEST(MqttMalformed, WrongLengths) {
  EXPECT_EQ(decode_error(hex("40 01 00"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("40 03 00 01 00"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("C0 01 00"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("D0 01 00"), kV5), kMalformed);
  EXPECT_EQ(decode_error(hex("E0 01 00"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("B0 03 00 01 00"), kV311), kMalformed);
  EXPECT_EQ(decode_error(hex("30 01 00"), kV311), kMalformed);              // topic length cut
  EXPECT_EQ(decode_error(hex("30 04 00 05 61 62"), kV311), kMalformed);     // topic past the end
  EXPECT_EQ(decode_error(hex("32 04 00 01 74 00"), kV311), kMalformed);     // packet id cut
  EXPECT_EQ(decode_error(hex("82 05 00 01 00 01 74"), kV311), kMalformed);  // no options byte
  EXPECT_EQ(decode_error(hex("E0 03 00 05 11"), kV5), kMalformed);          // property cut
}

// CONNECT 3.1.1 with the given flags byte and payload.
std::string connect_v311(std::uint8_t flags, std::string_view payload) {
  std::string s = hex("10");
  s.push_back(static_cast<char>(10 + payload.size()));
  s += hex("00 04") + "MQTT" + hex("04");
  s.push_back(static_cast<char>(flags));
  s += hex("00 00");
  s += payload;
  return s;
}

TEST(MqttMalformed, ConnectFlags) {
  const std::string id = hex("00 01") + "c";
  const std::string will = hex("00 01") + "t" + hex("00 00");
  EXPECT_EQ(decode_error(connect_v311(0x02, id), std::nullopt), CodecError::kNone);
  EXPECT_EQ(decode_error(connect_v311(0x03, id), std::nullopt), kFlags);         // reserved bit
  EXPECT_EQ(decode_error(connect_v311(0x1C, id + will), std::nullopt), kFlags);  // will QoS 3
  EXPECT_EQ(decode_error(connect_v311(0x08, id), std::nullopt), kFlags);         // QoS without will
  EXPECT_EQ(decode_error(connect_v311(0x20, id), std::nullopt), kFlags);  // retain without will
  EXPECT_EQ(decode_error(connect_v311(0x40, id + hex("00 00")), std::nullopt),
            kFlags);  // password without user name
  EXPECT_EQ(decode_error(connect_v311(0x80, id), std::nullopt), kMalformed);  // user name missing
  EXPECT_EQ(decode_error(connect_v311(0x04, id), std::nullopt), kMalformed);  // will missing
  EXPECT_EQ(decode_error(connect_v311(0x02, id + "x"), std::nullopt), kMalformed);  // trailing
  EXPECT_EQ(
      decode_error(connect_v311(0x04, id + hex("00 03") + "a/#" + hex("00 00")), std::nullopt),
      kProtocol);  // will topic with a wildcard
  EXPECT_EQ(decode_error(connect_v311(0x04, id + hex("00 00 00 00")), std::nullopt),
            kProtocol);  // empty will topic
}

TEST(MqttMalformed, ConnectProtocolNameAndLevel) {
  const auto connect = [](std::string_view name, std::uint8_t level) {
    std::string s = hex("10");
    s.push_back(static_cast<char>(2 + name.size() + 6));
    s.push_back(0);
    s.push_back(static_cast<char>(name.size()));
    s += name;
    s.push_back(static_cast<char>(level));
    s += hex("02 00 00 00 00");
    return s;
  };
  EXPECT_EQ(decode_error(connect("MQTT", 4), std::nullopt), CodecError::kNone);
  EXPECT_EQ(decode_error(connect("MQIsdp", 3), std::nullopt), CodecError::kNone);
  EXPECT_EQ(decode_error(connect("MQTT", 6), std::nullopt), CodecError::kUnsupportedProtocol);
  EXPECT_EQ(decode_error(connect("MQTT", 3), std::nullopt), CodecError::kUnsupportedProtocol);
  EXPECT_EQ(decode_error(connect("MQIsdp", 4), std::nullopt), CodecError::kUnsupportedProtocol);
  EXPECT_EQ(decode_error(connect("MQTT", 0x84), std::nullopt), CodecError::kUnsupportedProtocol);
  EXPECT_EQ(decode_error(connect("HTTP", 4), std::nullopt), CodecError::kUnsupportedProtocol);
  EXPECT_EQ(decode_error(hex("10 03 00 04 4D"), std::nullopt), kMalformed);
  EXPECT_EQ(reason_code_for(CodecError::kUnsupportedProtocol),
            ReasonCode::kUnsupportedProtocolVersion);
}

// A v5 DISCONNECT (reason 0x80) carrying the given property bytes.
std::string disconnect_with(std::string_view properties) {
  std::string s = hex("E0");
  s.push_back(static_cast<char>(2 + properties.size()));
  s += hex("80");
  s.push_back(static_cast<char>(properties.size()));
  s += properties;
  return s;
}

// A v5 PUBLISH QoS 0 to "t" carrying the given property bytes.
std::string publish_with(std::string_view properties) {
  std::string s = hex("30");
  s.push_back(static_cast<char>(4 + properties.size()));
  s += hex("00 01 74");
  s.push_back(static_cast<char>(properties.size()));
  s += properties;
  return s;
}

TEST(MqttMalformed, V5Properties) {
  EXPECT_EQ(decode_error(disconnect_with(hex("1F 00 01 78")), kV5), CodecError::kNone);
  EXPECT_EQ(decode_error(disconnect_with(hex("05 00")), kV5), kMalformed);     // unknown id
  EXPECT_EQ(decode_error(disconnect_with(hex("00")), kV5), kMalformed);        // id 0
  EXPECT_EQ(decode_error(disconnect_with(hex("23 00 01")), kV5), kMalformed);  // not allowed
  EXPECT_EQ(decode_error(disconnect_with(hex("1F 00 01 78 1F 00 01 79")), kV5),
            kProtocol);  // twice
  EXPECT_EQ(decode_error(disconnect_with(hex("26 00 00 00 00 26 00 00 00 00")), kV5),
            CodecError::kNone);  // user properties may repeat
  EXPECT_EQ(decode_error(disconnect_with(hex("11 00 00")), kV5), kMalformed);  // value cut
  EXPECT_EQ(decode_error(disconnect_with(hex("1F 00 05 78")), kV5), kMalformed);
  // Property length past the end of the packet; over-long property length.
  EXPECT_EQ(decode_error(hex("E0 02 80 05"), kV5), kMalformed);
  EXPECT_EQ(decode_error(hex("E0 06 80 80 80 80 80 00"), kV5), kMalformed);
}

TEST(MqttMalformed, V5PropertyValues) {
  EXPECT_EQ(decode_error(publish_with(hex("01 02")), kV5), kProtocol);     // format indicator 2
  EXPECT_EQ(decode_error(publish_with(hex("23 00 00")), kV5), kProtocol);  // topic alias 0
  EXPECT_EQ(decode_error(publish_with(hex("0B 00")), kV5), kProtocol);     // subscription id 0
  EXPECT_EQ(decode_error(publish_with(hex("0B 80 80 80 80 01")), kV5), kMalformed);
  EXPECT_EQ(decode_error(publish_with(hex("08 00 03") + "a/+"), kV5), kProtocol);  // response topic
  EXPECT_EQ(decode_error(publish_with(hex("0B 01 0B 02")), kV5), CodecError::kNone);
  // Two subscription identifiers in SUBSCRIBE.
  EXPECT_EQ(decode_error(hex("82 0B 00 01 04 0B 01 0B 02 00 01 74 00"), kV5), kProtocol);
  const auto connect_v5 = [](std::string_view properties) {
    std::string s = hex("10");
    s.push_back(static_cast<char>(13 + properties.size()));
    s += hex("00 04") + "MQTT" + hex("05 02 00 00");
    s.push_back(static_cast<char>(properties.size()));
    s += properties;
    s += hex("00 00");
    return s;
  };
  EXPECT_EQ(decode_error(connect_v5(""), std::nullopt), CodecError::kNone);
  EXPECT_EQ(decode_error(connect_v5(hex("21 00 00")), std::nullopt), kProtocol);  // receive max
  EXPECT_EQ(decode_error(connect_v5(hex("27 00 00 00 00")), std::nullopt), kProtocol);
  EXPECT_EQ(decode_error(connect_v5(hex("17 02")), std::nullopt), kProtocol);
  EXPECT_EQ(decode_error(connect_v5(hex("19 05")), std::nullopt), kProtocol);
  EXPECT_EQ(decode_error(connect_v5(hex("16 00 00")), std::nullopt), kProtocol);  // data, no method
  EXPECT_EQ(decode_error(connect_v5(hex("24 01")), std::nullopt), kMalformed);    // CONNACK only
  EXPECT_EQ(decode_error(hex("20 05 00 00 02 24 02"), kV5), kProtocol);           // maximum QoS 2
  EXPECT_EQ(decode_error(hex("20 05 00 00 02 25 02"), kV5), kProtocol);  // retain available 2
}

TEST(MqttMalformed, V5WillPropertiesAreCheckedAgainstTheWillList) {
  // Will properties holding Session Expiry Interval (a CONNECT property, not a will property).
  const std::string bytes = hex("10 18 00 04") + "MQTT" + hex("05 06 00 00 00 00 00") +
                            hex("05 11 00 00 00 01") + hex("00 01") + "t" + hex("00 00");
  EXPECT_EQ(decode_error(bytes, std::nullopt), kMalformed);
}

TEST(MqttMalformed, ErrorMessagesSayWhatIsWrong) {
  const auto d = testing::decode(publish_to("a/+"), kV311);
  EXPECT_EQ(d.status.to_string(), "protocol-error: PUBLISH topic name contains a wildcard ('+')");
  const auto e = testing::decode(disconnect_with(hex("23 00 01")), kV5);
  EXPECT_EQ(e.status.message, "Topic Alias property not allowed in DISCONNECT");
}

}  // namespace
}  // namespace holdfast::mqtt
