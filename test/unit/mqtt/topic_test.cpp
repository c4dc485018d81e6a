// Topic names, topic filters, UTF-8 rules; reason and error code names.

#include "protocols/mqtt/topic.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/reason_code.h"

namespace holdfast::mqtt {
namespace {

TEST(MqttTopic, Utf8) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain/ascii"));
  EXPECT_TRUE(is_valid_utf8("\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80"));
  EXPECT_TRUE(is_valid_utf8("\x7F\x01"));      // control characters: SHOULD NOT, not MUST NOT
  EXPECT_TRUE(is_valid_utf8("\xEF\xBF\xBF"));  // U+FFFF non-character: allowed
  EXPECT_FALSE(is_valid_utf8(std::string("\0", 1)));
  EXPECT_FALSE(is_valid_utf8("\xED\xA0\x80"));
  EXPECT_FALSE(is_valid_utf8("\xC1\xBF"));
  EXPECT_FALSE(is_valid_utf8("\xF0\x8F\xBF\xBF"));  // overlong 4-byte
  EXPECT_FALSE(is_valid_utf8("\xF8\x88\x80\x80\x80"));
  EXPECT_FALSE(is_valid_utf8("\xFF"));
  EXPECT_FALSE(is_valid_utf8("\xC3"));
  EXPECT_FALSE(is_valid_utf8("\xE2\x28\xA1"));
}

TEST(MqttTopic, Names) {
  EXPECT_TRUE(is_valid_topic_name("a/b/c"));
  EXPECT_TRUE(is_valid_topic_name("/"));
  EXPECT_TRUE(is_valid_topic_name("$SYS/x"));
  EXPECT_FALSE(is_valid_topic_name(""));
  EXPECT_FALSE(is_valid_topic_name("a/+/c"));
  EXPECT_FALSE(is_valid_topic_name("a/#"));
  EXPECT_FALSE(is_valid_topic_name("a\xFF"));
}

TEST(MqttTopic, Filters) {
  for (const char* ok : {"#", "+", "a/#", "+/+", "/+", "a/+/c", "sport/tennis/+", "+/tennis/#",
                         "a//b", "$share/g/a/#", "$share/g/#", "$share/g//"}) {
    EXPECT_TRUE(is_valid_topic_filter(ok)) << ok;
  }
  for (const char* bad : {"", "a#", "a/#/b", "a/b#", "a+", "a/+b", "#/a", "$share/g", "$share//a",
                          "$share/g+/a", "$share/g/", "$share/#/a"}) {
    EXPECT_FALSE(is_valid_topic_filter(bad)) << bad;
  }
  EXPECT_TRUE(is_shared_subscription("$share/g/t"));
  EXPECT_FALSE(is_shared_subscription("$sharex/g/t"));
}

TEST(MqttReasonCode, NamesAndMappings) {
  EXPECT_EQ(reason_code_name(ReasonCode::kPacketTooLarge), "Packet too large");
  EXPECT_EQ(reason_code_name(ReasonCode::kNormalDisconnection), "Success");
  EXPECT_EQ(reason_code_name(static_cast<ReasonCode>(0x03)), "Unknown reason code");
  EXPECT_EQ(connack_return_code_name(ConnackReturnCode::kNotAuthorized),
            "Connection Refused, not authorized");
  for (int c = 0; c <= 5; ++c) {
    const auto code = static_cast<ConnackReturnCode>(c);
    EXPECT_EQ(to_connack_return_code(to_reason_code(code)), code);
  }
  EXPECT_EQ(to_connack_return_code(ReasonCode::kServerBusy), ConnackReturnCode::kServerUnavailable);
  EXPECT_TRUE(is_failure(ReasonCode::kUnspecifiedError));
  EXPECT_FALSE(is_failure(ReasonCode::kGrantedQos2));
}

TEST(MqttCodecStatus, NamesAndReasonCodes) {
  std::set<std::string_view> names;
  for (int e = 0; e <= static_cast<int>(CodecError::kInvalidArgument); ++e) {
    auto name = codec_error_name(static_cast<CodecError>(e));
    EXPECT_NE(name, "unknown");
    names.insert(name);
  }
  EXPECT_EQ(names.size(), static_cast<std::size_t>(CodecError::kInvalidArgument) + 1);
  EXPECT_EQ(reason_code_for(CodecError::kPacketTooLarge), ReasonCode::kPacketTooLarge);
  EXPECT_EQ(reason_code_for(CodecError::kProtocolError), ReasonCode::kProtocolError);
  EXPECT_EQ(reason_code_for(CodecError::kInvalidUtf8), ReasonCode::kMalformedPacket);
  EXPECT_EQ(CodecStatus{}.to_string(), "ok");
}

}  // namespace
}  // namespace holdfast::mqtt
