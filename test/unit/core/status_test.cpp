#include "broker/core/status.h"

#include <gtest/gtest.h>

#include <set>

#include "broker/core/message.h"

namespace holdfast::core {
namespace {

TEST(Status, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.to_string(), "ok");
}

TEST(Status, CarriesCodeAndReason) {
  Status s(Code::kResourceExhausted, "queue 'x' is full");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Code::kResourceExhausted);
  EXPECT_EQ(s.to_string(), "resource-exhausted: queue 'x' is full");
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(Code::kInternal); ++c) {
    auto name = code_name(static_cast<Code>(c));
    EXPECT_NE(name, "unknown");
    EXPECT_TRUE(names.insert(name).second) << name;
  }
}

TEST(Result, HoldsValueOrError) {
  auto half = [](int x) -> Result<int> {
    if (x % 2 != 0) return error(Code::kInvalidArgument, "odd");
    return x / 2;
  };
  ASSERT_TRUE(half(4).has_value());
  EXPECT_EQ(*half(4), 2);
  auto bad = half(3);
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), Code::kInvalidArgument);
  EXPECT_EQ(bad.error().message(), "odd");
}

TEST(Message, ProtocolNames) {
  EXPECT_EQ(protocol_name(Protocol::kMqtt), "mqtt");
  EXPECT_EQ(protocol_name(Protocol::kAmqp), "amqp");
  EXPECT_EQ(protocol_name(Protocol::kCoap), "coap");
}

TEST(Message, NowIsEpochMilliseconds) {
  // 2020-01-01 and 2100-01-01 in ms: a seconds or microseconds clock would fall outside.
  EXPECT_GT(now_ms(), 1577836800000);
  EXPECT_LT(now_ms(), 4102444800000);
}

TEST(Message, EqualityCoversEveryField) {
  Message a;
  a.address = "devices/d1/messages/events";
  a.payload = std::string("\x00\xff", 2);
  Message b = a;
  EXPECT_EQ(a, b);
  b.properties.user.emplace_back("k", "v");
  EXPECT_NE(a, b);
  b = a;
  b.amqp_bare = "";
  EXPECT_NE(a, b);
  b = a;
  b.origin.device_id = "d1";
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace holdfast::core
