#include "broker/core/address.h"

#include <gtest/gtest.h>

namespace holdfast::core {
namespace {

using Levels = std::vector<std::string_view>;

TEST(SplitAddress, KeepsEmptyLevels) {
  EXPECT_EQ(split_address("a/b/c"), (Levels{"a", "b", "c"}));
  EXPECT_EQ(split_address("a//b"), (Levels{"a", "", "b"}));
  EXPECT_EQ(split_address("/a"), (Levels{"", "a"}));
  EXPECT_EQ(split_address("a/"), (Levels{"a", ""}));
  EXPECT_EQ(split_address(""), (Levels{""}));
  EXPECT_EQ(split_address("/"), (Levels{"", ""}));
}

TEST(TopicValidation, Names) {
  EXPECT_TRUE(is_valid_topic_name("a/b"));
  EXPECT_TRUE(is_valid_topic_name("/"));
  EXPECT_TRUE(is_valid_topic_name("$SYS/x"));
  EXPECT_FALSE(is_valid_topic_name(""));
  EXPECT_FALSE(is_valid_topic_name("a/+"));
  EXPECT_FALSE(is_valid_topic_name("a/#"));
  EXPECT_FALSE(is_valid_topic_name(std::string_view("a\0b", 3)));
  EXPECT_TRUE(is_valid_topic_name(std::string(65535, 'x')));
  EXPECT_FALSE(is_valid_topic_name(std::string(65536, 'x')));
}

TEST(TopicValidation, Filters) {
  for (auto ok : {"#", "+", "a/#", "a/+/b", "+/+", "/+", "a//#", "sport/tennis/+"}) {
    EXPECT_TRUE(is_valid_topic_filter(ok)) << ok;
  }
  for (auto bad : {"", "a#", "a/#/b", "a/b+", "+a", "##", "a/#/"}) {
    EXPECT_FALSE(is_valid_topic_filter(bad)) << bad;
  }
}

struct MatchCase {
  const char* filter;
  const char* topic;
  bool matches;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << "'" << c.filter << "' vs '" << c.topic << "'";
}

class TopicMatch : public ::testing::TestWithParam<MatchCase> {};

TEST_P(TopicMatch, FollowsMqttRules) {
  const auto& c = GetParam();
  EXPECT_EQ(topic_matches(c.filter, c.topic), c.matches) << c.filter << " vs " << c.topic;
}

// Cases from the OASIS MQTT 3.1.1 specification, section 4.7.
INSTANTIATE_TEST_SUITE_P(
    Spec, TopicMatch,
    ::testing::Values(
        MatchCase{"sport/tennis/player1/#", "sport/tennis/player1", true},
        MatchCase{"sport/tennis/player1/#", "sport/tennis/player1/ranking", true},
        MatchCase{"sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", true},
        MatchCase{"sport/#", "sport", true}, MatchCase{"#", "sport/tennis", true},
        MatchCase{"sport/tennis/+", "sport/tennis/player1", true},
        MatchCase{"sport/tennis/+", "sport/tennis/player1/ranking", false},
        MatchCase{"sport/+", "sport", false}, MatchCase{"sport/+", "sport/", true},
        MatchCase{"+/+", "/finance", true}, MatchCase{"/+", "/finance", true},
        MatchCase{"+", "/finance", false}, MatchCase{"#", "$SYS/x", false},
        MatchCase{"+/monitor/Clients", "$SYS/monitor/Clients", false},
        MatchCase{"$SYS/#", "$SYS/monitor/Clients", true},
        MatchCase{"$SYS/monitor/+", "$SYS/monitor/Clients", true}, MatchCase{"a/b", "a/b", true},
        MatchCase{"a/b", "a", false}, MatchCase{"a", "a/b", false}, MatchCase{"a/b", "a/bc", false},
        MatchCase{"a/+/c", "a//c", true}, MatchCase{"a/#", "a/", true},
        MatchCase{"devices/+/messages/events/#", "devices/d1/messages/events", true},
        MatchCase{"devices/+/messages/events/#", "devices/d1/messages/events/%24.ct=json", true},
        MatchCase{"devices/+/messages/events/#", "devices/d1/messages/devicebound", false}));

TEST(DeviceAddress, PlainTelemetry) {
  auto a = parse_device_address("devices/dev1/messages/events");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->device_id, "dev1");
  EXPECT_EQ(a->endpoint, DeviceEndpoint::kEvents);
  EXPECT_EQ(a->tail, "");
}

TEST(DeviceAddress, AmqpFormsAndCase) {
  auto a = parse_device_address("amqps://myhub.azure-devices.net/devices/Dev%201/Messages/Events");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->device_id, "Dev 1");
  EXPECT_EQ(a->endpoint, DeviceEndpoint::kEvents);
  auto b = parse_device_address("amqps://hub:5671/devices/d2/messages/deviceBound");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->device_id, "d2");
  EXPECT_EQ(b->endpoint, DeviceEndpoint::kDeviceBound);
  auto c = parse_device_address("/devices/d3/messages/devicebound");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->device_id, "d3");
}

TEST(DeviceAddress, MqttPropertyBagIsTheTail) {
  auto a = parse_device_address("devices/d1/messages/events/%24.mid=42&temp=hot");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->device_id, "d1");
  EXPECT_EQ(a->tail, "%24.mid=42&temp=hot");
  auto b = parse_device_address("devices/d1/messages/events/");
  ASSERT_TRUE(b);
  EXPECT_EQ(b->tail, "");
}

TEST(DeviceAddress, RejectsOtherAddresses) {
  for (auto bad : {"temperature", "devices", "devices/", "devices//messages/events", "devices/d1",
                   "devices/d1/messages", "devices/d1/messages/eventsX", "devices/d1/twin",
                   "devices/%zz/messages/events", "amqps://host", "xdevices/d1/messages/events"}) {
    EXPECT_FALSE(parse_device_address(bad)) << bad;
  }
}

TEST(UrlCoding, DecodesAndRejectsBadEscapes) {
  EXPECT_EQ(*url_decode("a%2Fb%2fc"), "a/b/c");
  EXPECT_EQ(*url_decode("%24.ct"), "$.ct");
  EXPECT_EQ(*url_decode("a+b"), "a+b");
  EXPECT_EQ(*url_decode(""), "");
  EXPECT_FALSE(url_decode("%"));
  EXPECT_FALSE(url_decode("%4"));
  EXPECT_FALSE(url_decode("%g0"));
  EXPECT_EQ(url_decode("%").error().code(), Code::kInvalidArgument);
}

TEST(UrlCoding, EncodeRoundTripsEveryByte) {
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  std::string encoded = url_encode(all);
  EXPECT_EQ(encoded.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~%"),
            std::string::npos);
  EXPECT_EQ(*url_decode(encoded), all);
  EXPECT_EQ(url_encode("hub/devices/d 1"), "hub%2Fdevices%2Fd%201");
}

}  // namespace
}  // namespace holdfast::core
