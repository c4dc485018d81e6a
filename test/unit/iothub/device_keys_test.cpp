#include "broker/iothub/device_keys.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

namespace holdfast::iothub {
namespace {

using core::Code;

// 32-byte keys: bytes 0..31, 32..63, 64..95, 96..127.
constexpr std::string_view kKey0 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr std::string_view kKey1 = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";
constexpr std::string_view kKey2 = "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=";
constexpr std::string_view kKey3 = "YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=";
constexpr std::string_view kHost = "myhub.azure-devices.net";
constexpr std::int64_t kNow = 1700000000;

std::vector<std::string> list(std::initializer_list<std::string_view> keys) {
  return {keys.begin(), keys.end()};
}
std::vector<std::string> list(std::span<const std::string> keys) {
  return {keys.begin(), keys.end()};
}

DeviceKeys parse_ok(const std::string& text) {
  auto keys = DeviceKeys::parse(text, "keys.txt");
  EXPECT_TRUE(keys.has_value()) << keys.error().message();
  return keys.value_or(DeviceKeys());
}

std::string valid_file() {
  std::ostringstream text;
  text << "# devices of line 2\n"
       << "\n"
       << "dev1 " << kKey0 << " " << kKey1 << "\n"
       << "  \tdev2\t" << kKey2 << "   # comment after the keys\n"
       << "dev1/mod-A " << kKey3 << "\r\n"
       << "odd:id=x@y;$'(1)*?!,+%_.- " << kKey0 << "\n"
       << "policy device " << kKey2 << " " << kKey3 << "\n"
       << "   # indented comment\n"
       << "policy owner " << kKey1;  // no final newline
  return text.str();
}

TEST(DeviceKeysParse, ReadsDevicesModulesAndPolicies) {
  DeviceKeys keys = parse_ok(valid_file());
  EXPECT_EQ(keys.identity_count(), 4u);
  EXPECT_EQ(keys.policy_count(), 2u);
  EXPECT_EQ(list(keys.keys_for("dev1")), list({kKey0, kKey1}));
  EXPECT_EQ(list(keys.keys_for("dev2")), list({kKey2}));
  EXPECT_EQ(list(keys.keys_for("dev1", "mod-A")), list({kKey3}));
  EXPECT_EQ(list(keys.keys_for("odd:id=x@y;$'(1)*?!,+%_.-")), list({kKey0}));
  EXPECT_EQ(list(keys.policy_keys("device")), list({kKey2, kKey3}));
  EXPECT_EQ(list(keys.policy_keys("owner")), list({kKey1}));
}

TEST(DeviceKeysParse, LooksUpExactly) {
  DeviceKeys keys = parse_ok(valid_file());
  EXPECT_TRUE(keys.keys_for("DEV1").empty());  // ids are case-sensitive, as in IoT Hub
  EXPECT_TRUE(keys.keys_for("dev").empty());
  EXPECT_TRUE(keys.keys_for("").empty());
  EXPECT_TRUE(keys.keys_for("dev2", "mod-A").empty());
  EXPECT_TRUE(keys.keys_for("dev1/mod-A").empty());  // a module is asked for by its two ids
  EXPECT_TRUE(keys.keys_for("dev1", "mod-A/").empty());
  EXPECT_TRUE(keys.keys_for("dev1/", "mod-A").empty());
  EXPECT_TRUE(keys.keys_for("device").empty());  // policies are not devices
  EXPECT_TRUE(keys.policy_keys("dev1").empty());
  EXPECT_TRUE(keys.policy_keys("Device").empty());
}

TEST(DeviceKeysParse, AnEmptyFileIsAnEmptySet) {
  DeviceKeys keys = parse_ok("# nothing yet\n\n");
  EXPECT_EQ(keys.identity_count(), 0u);
  EXPECT_EQ(keys.policy_count(), 0u);
}

TEST(DeviceKeysParse, ReportsEveryBadLineAtOnce) {
  std::ostringstream text;
  text << "dev1\n"                                                      // 1
       << "dev2 " << kKey0 << " " << kKey1 << " " << kKey2 << "\n"      // 2
       << "dev3 not-base64!\n"                                          // 3
       << "dev4 " << kKey0 << " Zh==\n"                                 // 4
       << "dev5 AAECAwQFBgcICQoLDA0ODw==\n"                             // 5 (16 bytes: fine)
       << "dev6 AAECAwQFBgcICQoLDA0O\n"                                 // 6 (15 bytes)
       << "d\xC3\xA9v " << kKey0 << "\n"                                // 7
       << std::string(129, 'x') << " " << kKey0 << "\n"                 // 8
       << "a/b/c " << kKey0 << "\n"                                     // 9
       << "a/ " << kKey0 << "\n"                                        // 10
       << "/m " << kKey0 << "\n"                                        // 11
       << "dev5 " << kKey1 << "\n"                                      // 12
       << "policy p\n"                                                  // 13
       << "policy p " << kKey0 << " " << kKey1 << " " << kKey2 << "\n"  // 14
       << "policy q " << kKey0 << "\n"                                  // 15
       << "policy q " << kKey1 << "\n"                                  // 16
       << "dev<1> " << kKey0 << "\n"                                    // 17
       << "ok " << kKey0 << "\n";                                       // 18
  auto keys = DeviceKeys::parse(text.str(), "/etc/holdfast/device-keys");
  ASSERT_FALSE(keys.has_value());
  EXPECT_EQ(keys.error().code(), Code::kInvalidArgument);
  std::string want =
      "/etc/holdfast/device-keys:1: expected 'DEVICE_ID[/MODULE_ID] PRIMARY_KEY [SECONDARY_KEY]', "
      "got 1 fields\n"
      "/etc/holdfast/device-keys:2: expected 'DEVICE_ID[/MODULE_ID] PRIMARY_KEY [SECONDARY_KEY]', "
      "got 4 fields\n"
      "/etc/holdfast/device-keys:3: primary key is not valid base64 (base64 length 11 is not a "
      "multiple of 4 (is the '=' padding missing?))\n"
      "/etc/holdfast/device-keys:4: secondary key is not valid base64 (base64 is not canonical: "
      "padding bits are not zero)\n"
      "/etc/holdfast/device-keys:6: primary key decodes to 15 bytes; IoT Hub keys have 16 to 64\n"
      "/etc/holdfast/device-keys:7: device id 'd??v' has a character IoT Hub does not allow in "
      "ids\n"
      "/etc/holdfast/device-keys:8: device id '" +
      std::string(120, 'x') +
      "...' is longer than 128 characters\n"
      "/etc/holdfast/device-keys:9: identity 'a/b/c' has more than one '/' "
      "(DEVICE_ID/MODULE_ID)\n"
      "/etc/holdfast/device-keys:10: module id '' is empty\n"
      "/etc/holdfast/device-keys:11: device id '' is empty\n"
      "/etc/holdfast/device-keys:12: identity 'dev5' is already listed at line 5\n"
      "/etc/holdfast/device-keys:13: expected 'policy NAME PRIMARY_KEY [SECONDARY_KEY]', got 2 "
      "fields\n"
      "/etc/holdfast/device-keys:14: expected 'policy NAME PRIMARY_KEY [SECONDARY_KEY]', got 5 "
      "fields\n"
      "/etc/holdfast/device-keys:16: policy 'q' is already listed at line 15\n"
      "/etc/holdfast/device-keys:17: device id 'dev<1>' has a character IoT Hub does not allow in "
      "ids";
  EXPECT_EQ(keys.error().message(), want);
  for (auto key : {kKey0, kKey1, kKey2}) {
    EXPECT_EQ(keys.error().message().find(key), std::string::npos) << "key material in errors";
  }
}

TEST(DeviceKeysParse, AcceptsTheDocumentedKeySizeLimits) {
  std::string key16 = "AAECAwQFBgcICQoLDA0ODw==";       // 16 bytes
  std::string key64(88, 'A');                           // 66 bytes: too long
  std::string key64ok = std::string(84, 'A') + "AA==";  // 64 bytes
  EXPECT_TRUE(DeviceKeys::parse("d " + key16, "f").has_value());
  EXPECT_TRUE(DeviceKeys::parse("d " + key64ok, "f").has_value());
  auto too_long = DeviceKeys::parse("d " + key64, "f");
  ASSERT_FALSE(too_long.has_value());
  EXPECT_EQ(too_long.error().message(),
            "f:1: primary key decodes to 66 bytes; IoT Hub keys have 16 to 64");
}

TEST(DeviceKeysParse, TheExampleFileIsValid) {
  std::string path = std::string(HOLDFAST_SOURCE_DIR) + "/conf/device-keys.example";
  // As shipped, every entry is commented out.
  auto as_shipped = DeviceKeys::load(path);
  ASSERT_TRUE(as_shipped.has_value()) << as_shipped.error().message();
  EXPECT_EQ(as_shipped->identity_count(), 0u);

  // With the sample entries uncommented, they parse.
  std::ifstream file(path);
  std::string line, uncommented;
  while (std::getline(file, line)) {
    if (line.starts_with("#| ")) line.erase(0, 3);
    uncommented += line + "\n";
  }
  auto samples = DeviceKeys::parse(uncommented, path);
  ASSERT_TRUE(samples.has_value()) << samples.error().message();
  EXPECT_EQ(samples->identity_count(), 3u);
  EXPECT_EQ(samples->policy_count(), 1u);
  EXPECT_EQ(samples->keys_for("thermostat-17").size(), 2u);
  EXPECT_EQ(samples->keys_for("pump:line-2").size(), 1u);
  EXPECT_EQ(samples->keys_for("gateway-1", "filter").size(), 1u);
  EXPECT_EQ(samples->policy_keys("device").size(), 2u);
}

TEST(DeviceKeysLoad, ReadsAFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("holdfast-device-keys-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out << valid_file();
  }
  auto keys = DeviceKeys::load(path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(keys.has_value()) << keys.error().message();
  EXPECT_EQ(keys->identity_count(), 4u);
}

TEST(DeviceKeysLoad, ErrorsNameTheFile) {
  auto path = std::filesystem::temp_directory_path() /
              ("holdfast-device-keys-bad-" + std::to_string(::getpid()) + ".txt");
  {
    std::ofstream out(path);
    out << "dev1\n";
  }
  auto keys = DeviceKeys::load(path.string());
  std::filesystem::remove(path);
  ASSERT_FALSE(keys.has_value());
  EXPECT_EQ(keys.error().code(), Code::kInvalidArgument);
  EXPECT_TRUE(keys.error().message().starts_with(path.string() + ":1: ")) << keys.error().message();
}

TEST(DeviceKeysLoad, AMissingFileIsNotFound) {
  auto keys = DeviceKeys::load("/nonexistent/holdfast/device-keys");
  ASSERT_FALSE(keys.has_value());
  EXPECT_EQ(keys.error().code(), Code::kNotFound);
  EXPECT_NE(keys.error().message().find("/nonexistent/holdfast/device-keys"), std::string::npos);
}

// --- verify / mint ----------------------------------------------------------------------------

SasToken token_for(std::string_view resource, std::string_view key, std::string_view skn = {}) {
  auto text = mint_sas_token(resource, key, kNow + 3600, skn);
  EXPECT_TRUE(text.has_value());
  auto token = parse_sas_token(text.value_or(""));
  EXPECT_TRUE(token.has_value());
  return token.value_or(SasToken{});
}

TEST(DeviceKeysVerify, AcceptsADeviceTokenSignedWithEitherKey) {
  DeviceKeys keys = parse_ok(valid_file());
  EXPECT_TRUE(
      keys.verify(token_for("myhub.azure-devices.net/devices/dev1", kKey0), kNow, kHost, "dev1")
          .ok());
  EXPECT_TRUE(
      keys.verify(token_for("myhub.azure-devices.net/devices/dev1", kKey1), kNow, kHost, "dev1")
          .ok());
}

TEST(DeviceKeysVerify, AcceptsAModuleToken) {
  DeviceKeys keys = parse_ok(valid_file());
  auto token = token_for("myhub.azure-devices.net/devices/dev1/modules/mod-A", kKey3);
  EXPECT_TRUE(keys.verify(token, kNow, kHost, "dev1", "mod-A").ok());
  // The module's key is not the device's.
  auto as_device = token_for("myhub.azure-devices.net/devices/dev1", kKey3);
  EXPECT_EQ(keys.verify(as_device, kNow, kHost, "dev1").code(), Code::kUnauthenticated);
}

TEST(DeviceKeysVerify, OneDevicesKeyDoesNotVouchForAnother) {
  DeviceKeys keys = parse_ok(valid_file());
  // dev2 signs a token that names dev1: checked with dev1's keys, it fails.
  auto forged = token_for("myhub.azure-devices.net/devices/dev1", kKey2);
  EXPECT_EQ(keys.verify(forged, kNow, kHost, "dev1").code(), Code::kUnauthenticated);
  // dev2's genuine token presented as dev1: checked with dev1's keys, it fails too.
  auto own = token_for("myhub.azure-devices.net/devices/dev2", kKey2);
  EXPECT_EQ(keys.verify(own, kNow, kHost, "dev1").code(), Code::kUnauthenticated);
  // ... and as dev2, for the right identity, it passes.
  EXPECT_TRUE(keys.verify(own, kNow, kHost, "dev2").ok());
  // dev2 cannot pass its key off as a policy's either.
  auto fake_policy = token_for("myhub.azure-devices.net/devices", kKey2, "owner");
  EXPECT_EQ(keys.verify(fake_policy, kNow, kHost, "dev1").code(), Code::kUnauthenticated);
}

TEST(DeviceKeysVerify, PolicyTokensCoverEveryDevice) {
  DeviceKeys keys = parse_ok(valid_file());
  auto token = token_for("myhub.azure-devices.net/devices", kKey3, "device");
  EXPECT_TRUE(keys.verify(token, kNow, kHost, "dev1").ok());
  EXPECT_TRUE(keys.verify(token, kNow, kHost, "not-listed").ok());
  EXPECT_TRUE(keys.verify(token, kNow, kHost, "dev1", "mod-A").ok());
  EXPECT_EQ(keys.verify(token, kNow, "otherhub", "dev1").code(), Code::kPermissionDenied);
}

TEST(DeviceKeysVerify, UnknownIdentitiesAndPoliciesAreUnauthenticated) {
  DeviceKeys keys = parse_ok(valid_file());
  auto status =
      keys.verify(token_for("myhub.azure-devices.net/devices/dev9", kKey0), kNow, kHost, "dev9");
  EXPECT_EQ(status.code(), Code::kUnauthenticated);
  EXPECT_NE(status.message().find("does not list 'dev9'"), std::string::npos) << status.message();

  status = keys.verify(token_for("myhub.azure-devices.net/devices/dev1/modules/m", kKey0), kNow,
                       kHost, "dev1", "m");
  EXPECT_EQ(status.code(), Code::kUnauthenticated);
  EXPECT_NE(status.message().find("does not list 'dev1/m'"), std::string::npos) << status.message();

  status =
      keys.verify(token_for("myhub.azure-devices.net", kKey0, "iothubowner"), kNow, kHost, "dev1");
  EXPECT_EQ(status.code(), Code::kUnauthenticated);
  EXPECT_NE(status.message().find("policy 'iothubowner'"), std::string::npos) << status.message();

  EXPECT_EQ(
      DeviceKeys()
          .verify(token_for("myhub.azure-devices.net/devices/dev1", kKey0), kNow, kHost, "dev1")
          .code(),
      Code::kUnauthenticated);
}

TEST(DeviceKeysVerify, PassesExpiryAndAudienceThrough) {
  DeviceKeys keys = parse_ok(valid_file());
  auto token = token_for("myhub.azure-devices.net/devices/dev1", kKey0);
  EXPECT_EQ(keys.verify(token, kNow + 3600 + 301, kHost, "dev1").code(), Code::kUnauthenticated);
  EXPECT_EQ(keys.verify(token, kNow, "otherhub", "dev1").code(), Code::kPermissionDenied);
}

TEST(DeviceKeysMint, MintsWithThePrimaryKey) {
  DeviceKeys keys = parse_ok(valid_file());
  auto text = keys.mint(kHost, "dev1", "", kNow + 3600);
  ASSERT_TRUE(text.has_value()) << text.error().to_string();
  auto expected = mint_sas_token("myhub.azure-devices.net/devices/dev1", kKey0, kNow + 3600);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(*text, *expected);

  auto module = keys.mint(kHost, "dev1", "mod-A", kNow + 3600);
  ASSERT_TRUE(module.has_value()) << module.error().to_string();
  auto parsed = parse_sas_token(*module);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_TRUE(verify_sas_token(*parsed, list({kKey3}), kNow, kHost, "dev1", "mod-A").ok());
}

TEST(DeviceKeysMint, UnknownIdentityIsNotFound) {
  DeviceKeys keys = parse_ok(valid_file());
  auto text = keys.mint(kHost, "dev9", "", kNow);
  ASSERT_FALSE(text.has_value());
  EXPECT_EQ(text.error().code(), Code::kNotFound);
  EXPECT_EQ(keys.mint(kHost, "dev2", "mod-A", kNow).error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace holdfast::iothub
