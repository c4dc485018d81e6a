#include "broker/iothub/mqtt_identity.h"

#include <gtest/gtest.h>

namespace holdfast::iothub {

void PrintTo(const MqttDeviceLogin& l, std::ostream* os) {
  *os << "{host='" << l.host << "' device='" << l.device_id << "' module='" << l.module_id
      << "' api='" << l.api_version << "' type='" << l.device_client_type << "' model='"
      << l.model_id << "' chain='" << l.auth_chain << "'}";
}

namespace {

TEST(MqttUsername, ParsesADeviceLogin) {
  auto login = parse_mqtt_username("myhub.azure-devices.net/dev1/?api-version=2021-04-12");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(*login, (MqttDeviceLogin{.host = "myhub.azure-devices.net",
                                     .device_id = "dev1",
                                     .api_version = "2021-04-12"}));
  EXPECT_EQ(mqtt_client_id_for(*login), "dev1");
}

TEST(MqttUsername, ParsesTheCSdkLogin) {
  auto login = parse_mqtt_username(
      "myhub.azure-devices.net/dev1/?api-version=2020-09-30&DeviceClientType="
      "iothubclient%2F1.11.0%20(native%3B%20Linux%3B%20x86_64)");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->api_version, "2020-09-30");
  EXPECT_EQ(login->device_client_type, "iothubclient/1.11.0 (native; Linux; x86_64)");
}

TEST(MqttUsername, ParsesAModuleLoginWithEveryParameter) {
  auto login = parse_mqtt_username(
      "edge.example/leaf%1/mod-A/?api-version=2021-04-12&DeviceClientType=x&model-id="
      "dtmi%3Acom%3Aexample%3AThermostat%3B1&auth-chain=leaf%1%3Bedge1&other=ignored");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(*login, (MqttDeviceLogin{.host = "edge.example",
                                     .device_id = "leaf%1",  // not decoded: '%' is a valid id byte
                                     .module_id = "mod-A",
                                     .api_version = "2021-04-12",
                                     .device_client_type = "x",
                                     .model_id = "dtmi:com:example:Thermostat;1",
                                     .auth_chain = "leaf%1;edge1"}));
  EXPECT_EQ(mqtt_client_id_for(*login), "leaf%1/mod-A");
}

TEST(MqttUsername, AcceptsTheOldFormWithoutQuestionMark) {
  auto login = parse_mqtt_username("hub/dev1/api-version=2016-11-14&DeviceClientType=old");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->device_id, "dev1");
  EXPECT_EQ(login->api_version, "2016-11-14");
  EXPECT_EQ(login->device_client_type, "old");
  auto module = parse_mqtt_username("hub/dev1/m1/DeviceClientType=old&api-version=2017-06-30");
  ASSERT_TRUE(module.has_value());
  EXPECT_EQ(module->module_id, "m1");
  EXPECT_EQ(module->api_version, "2017-06-30");
}

TEST(MqttUsername, FirstRepeatedParameterWinsAndStrayPercentSignsStay) {
  auto login = parse_mqtt_username(
      "hub/dev1/"
      "?api-version=1&api-version=2&&auth-chain=a;b&DeviceClientType=100%&model-id=50%25%zz");
  ASSERT_TRUE(login.has_value());
  EXPECT_EQ(login->api_version, "1");
  EXPECT_EQ(login->auth_chain, "a;b");
  EXPECT_EQ(login->device_client_type, "100%");
  EXPECT_EQ(login->model_id, "50%%zz");
}

TEST(MqttUsername, RejectsOtherUsernames) {
  for (auto bad :
       {"", "dev1", "user@example.com", "hub/dev1", "hub/dev1/", "hub/dev1/?",
        "hub/dev1/?DeviceClientType=x", "hub/dev1/?api-version=", "hub/dev1/?api-version",
        "hub/dev1/?Api-Version=2021-04-12", "/dev1/?api-version=1", "hub//?api-version=1",
        "hub/dev1//?api-version=1", "hub/a/b/c/?api-version=1", "hub/dev1/x?api-version=1&y",
        "hub/dev1/DeviceClientType=x", "hub/dev1/?api-version=1/"}) {
    EXPECT_EQ(parse_mqtt_username(bad), std::nullopt) << bad;
  }
}

}  // namespace
}  // namespace holdfast::iothub
