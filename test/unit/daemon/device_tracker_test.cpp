#include "broker/daemon/device_tracker.h"

#include <gtest/gtest.h>

#include <vector>

namespace holdfast::daemon {
namespace {

class Recorder final : public core::Ingress {
 public:
  void submit(core::Message message, core::PublishOptions, core::Callback<void> done) override {
    got.push_back(std::move(message));
    done({});
  }
  std::vector<core::Message> got;
};

core::Message from(std::string address, std::string device = "",
                   core::Protocol protocol = core::Protocol::kMqtt) {
  core::Message m;
  m.address = std::move(address);
  m.payload = "x";
  m.origin = {protocol, "client-" + device, device};
  return m;
}

std::vector<std::string> ids(const DeviceTracker& t) {
  std::vector<std::string> out;
  for (const auto& d : t.devices()) out.push_back(d.id);
  return out;
}

void submit(DeviceTracker& t, core::Message m) {
  bool done = false;
  t.submit(std::move(m), {}, [&done](core::Result<void> r) { done = r.has_value(); });
  EXPECT_TRUE(done) << "the router's answer reaches the adapter";
}

TEST(DeviceTracker, PassesEveryMessageOnUnchanged) {
  Recorder router;
  DeviceTracker t(router, 10);
  core::Message m = from("devices/d1/messages/events", "d1");
  m.properties.message_id = "m-1";
  submit(t, m);
  submit(t, from("sensors/no-device"));
  ASSERT_EQ(router.got.size(), 2u);
  EXPECT_EQ(router.got[0], m);
  EXPECT_EQ(ids(t), std::vector<std::string>{"d1"}) << "a message of no device is not tracked";
}

TEST(DeviceTracker, DeviceFromOriginElseFromTheAddress) {
  Recorder router;
  DeviceTracker t(router, 10);
  submit(t, from("devices/by%20address/messages/events", "", core::Protocol::kCoap));
  submit(t, from("anything", "by-login", core::Protocol::kAmqp));
  auto devices = t.devices();
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].id, "by-login");
  EXPECT_EQ(devices[0].origin.protocol, core::Protocol::kAmqp);
  EXPECT_EQ(devices[1].id, "by address");
  EXPECT_EQ(devices[1].origin.protocol, core::Protocol::kCoap);
  EXPECT_EQ(devices[1].last_address, "devices/by%20address/messages/events");
}

TEST(DeviceTracker, MostRecentFirstAndBoundedByEvictingTheOldest) {
  Recorder router;
  DeviceTracker t(router, 2);
  submit(t, from("devices/a/messages/events", "a"));
  submit(t, from("devices/b/messages/events", "b"));
  submit(t, from("devices/a/messages/events", "a"));
  EXPECT_EQ(ids(t), (std::vector<std::string>{"a", "b"}));
  submit(t, from("devices/c/messages/events", "c"));  // b was seen longest ago
  EXPECT_EQ(ids(t), (std::vector<std::string>{"c", "a"}));
  EXPECT_EQ(t.evicted(), 1u);
  EXPECT_EQ(t.devices()[1].messages, 2u);
  EXPECT_GT(t.devices()[1].last_seen_ms, 0);
  submit(t, from("devices/b/messages/events", "b"));  // back, counted afresh
  EXPECT_EQ(ids(t), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(t.devices()[0].messages, 1u);
  EXPECT_EQ(router.got.size(), 5u);
}

}  // namespace
}  // namespace holdfast::daemon
