#include "broker/router/routes.h"

#include <gtest/gtest.h>

namespace holdfast::broker {
namespace {

using Queues = std::vector<std::string>;

RouteTable table(std::vector<Route> routes) {
  auto t = RouteTable::build(std::move(routes));
  EXPECT_TRUE(t) << t.error().to_string();
  return t ? *t : RouteTable{};
}

TEST(Routes, OneQueuePerDevice) {
  auto t = table(
      {{"devices/+/messages/events/#", "iothub/{1}"}, {"devices/+/messages/events", "iothub/{1}"}});
  EXPECT_EQ(t.resolve("devices/d1/messages/events", {}), Queues{"iothub/d1"});
  EXPECT_EQ(t.resolve("devices/d2/messages/events/%24.ct=json", {}), Queues{"iothub/d2"});
  EXPECT_TRUE(t.resolve("devices/d1/messages/devicebound", {}).empty());
  EXPECT_TRUE(t.resolve("temperature", {}).empty());
}

TEST(Routes, EveryMatchingRouteInOrderWithoutDuplicates) {
  auto t = table({{"plant/+/+", "by-line/{1}"},
                  {"plant/#", "all"},
                  {"plant/a/+", "all"},
                  {"plant/+/+", "by-sensor/{2}/{1}"}});
  EXPECT_EQ(t.resolve("plant/a/temp", {}), (Queues{"by-line/a", "all", "by-sensor/temp/a"}));
}

TEST(Routes, DevicePlaceholderUsesTheAddressThenTheOrigin) {
  auto t = table({{"#", "dev/{device}"}});
  EXPECT_EQ(t.resolve("devices/abc/messages/events", {}), Queues{"dev/abc"});
  core::Origin origin{core::Protocol::kCoap, "1.2.3.4", "sensor9"};
  EXPECT_EQ(t.resolve("temperature", origin), Queues{"dev/sensor9"});
  EXPECT_TRUE(t.resolve("temperature", {}).empty());  // no device id known: route skipped
}

TEST(Routes, EmptyCapturedLevelSkipsTheRoute) {
  auto t = table({{"a/+/c", "q/{1}"}});
  EXPECT_TRUE(t.resolve("a//c", {}).empty());
}

TEST(Routes, NamesQueueMatchesTemplatesLevelByLevel) {
  auto t = table({{"devices/+/messages/events/#", "iothub/{1}"},
                  {"plant/+/+", "line-{1}.{2}"},
                  {"#", "dev/{device}/in"},
                  {"plant/#", "plant"}});
  EXPECT_TRUE(t.names_queue("iothub/dev1"));
  EXPECT_TRUE(t.names_queue("iothub/{1}"));   // a placeholder's text is just text
  EXPECT_FALSE(t.names_queue("iothub/"));     // a placeholder stands for at least one character
  EXPECT_FALSE(t.names_queue("iothub/a/b"));  // ... and never for a '/'
  EXPECT_FALSE(t.names_queue("iothub"));
  EXPECT_FALSE(t.names_queue("xiothub/a"));
  EXPECT_TRUE(t.names_queue("line-a.b"));
  EXPECT_TRUE(t.names_queue("line-a.b.c"));  // {1} = "a", {2} = "b.c" (or {1} = "a.b")
  EXPECT_FALSE(t.names_queue("line-a."));
  EXPECT_FALSE(t.names_queue("line-a/b.c"));
  EXPECT_TRUE(t.names_queue("dev/sensor9/in"));
  EXPECT_FALSE(t.names_queue("dev/sensor9/out"));
  EXPECT_FALSE(t.names_queue("dev//in"));
  EXPECT_TRUE(t.names_queue("plant"));
  EXPECT_FALSE(t.names_queue("plant2"));
  EXPECT_FALSE(t.names_queue(""));
  EXPECT_FALSE(RouteTable{}.names_queue("plant"));
}

TEST(Routes, BuildRejectsBadRoutesWithReasons) {
  struct Case {
    Route route;
    const char* reason;
  };
  for (const auto& c : std::vector<Case>{
           {{"a/#/b", "q"}, "not a valid MQTT topic filter"},
           {{"a/+", ""}, "queue is empty"},
           {{"a/+", "q/{2}"}, "only 1 '+' wildcard"},
           {{"a/+", "q/{x}"}, "unknown placeholder {x}"},
           {{"a/+", "q/{1"}, "unbalanced"},
           {{"a/+", "q/}"}, "unbalanced"},
       }) {
    auto t = RouteTable::build({c.route});
    ASSERT_FALSE(t) << c.route.queue_template;
    EXPECT_EQ(t.error().code(), core::Code::kInvalidArgument);
    EXPECT_NE(t.error().message().find(c.reason), std::string::npos) << t.error().message();
  }
}

}  // namespace
}  // namespace holdfast::broker
