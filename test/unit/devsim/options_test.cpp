// The options every subcommand shares, parsed by CLI11 as holdfast-devsim does, and prepare():
// device ids, SAS tokens minted per device, counts, TEA parameters, usage errors.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <limits>
#include <string>

#include "broker/iothub/sas.h"
#include "tools/devsim/common.h"

namespace holdfast::devsim {
namespace {

constexpr const char* kHub = "myhub.azure-devices.net";
constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
constexpr const char* kOtherKey = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

// Parses `args` as a subcommand taking `set` would; throws CLI11's errors as it does.
CommonOptions parse(const std::string& args, OptionSet set) {
  CLI::App app;
  CommonOptions o;
  add_common_options(&app, o, set);
  app.parse(args, false);
  return o;
}

std::int64_t now_s() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void expect_token_for(const std::string& token, const std::string& device, const char* key) {
  auto parsed = iothub::parse_sas_token(token);
  ASSERT_TRUE(parsed) << token;
  std::vector<std::string> keys{key};
  EXPECT_TRUE(iothub::verify_sas_token(*parsed, keys, now_s(), kHub, device).ok()) << token;
  EXPECT_GT(parsed->se, now_s() + 3000);  // an hour's life
}

TEST(Options, ManyDevicesFromThePrefixInOrder) {
  auto o = parse(
      "--hub-host myhub.azure-devices.net --devices 3 --prefix dev --key " + std::string(kKey),
      {.many_devices = true, .pacing = true});
  auto p = prepare(o, true);
  ASSERT_TRUE(p) << p.error().message();
  ASSERT_EQ(p->devices.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(p->devices[i].id, "dev" + std::to_string(i));
    expect_token_for(p->devices[i].token, p->devices[i].id, kKey);
  }
  EXPECT_EQ(p->count, 10u);  // the default
  EXPECT_FALSE(p->tea);
}

TEST(Options, DefaultPrefixAndRepeatedDevice) {
  auto o = parse("--devices 2", {.many_devices = true, .pacing = true, .tokens = false});
  auto p = prepare(o, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->devices[0].id, "devsim-0");
  EXPECT_EQ(p->devices[1].id, "devsim-1");
  EXPECT_TRUE(p->devices[0].token.empty());
  o = parse("--device a --device b --device c", {.many_devices = true, .tokens = false});
  p = prepare(o, false);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->devices.size(), 3u);
  EXPECT_EQ(p->devices[2].id, "c");
}

TEST(Options, DeviceAndDevicesExcludeEachOther) {
  EXPECT_THROW(parse("--device a --devices 2", {.many_devices = true, .tokens = false}),
               CLI::ParseError);
}

TEST(Options, RateDurationCountAndTheMessagesAlias) {
  auto o = parse("--devices 1 --rate 2.5 --duration 60 --messages 7",
                 {.many_devices = true, .pacing = true, .tokens = false});
  EXPECT_DOUBLE_EQ(o.rate, 2.5);
  EXPECT_DOUBLE_EQ(o.duration_s, 60);
  auto p = prepare(o, false);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->count, 7u);
  o = parse("--devices 1 --duration 5", {.many_devices = true, .pacing = true, .tokens = false});
  EXPECT_EQ(prepare(o, false)->count, std::numeric_limits<std::uint64_t>::max());
  EXPECT_THROW(
      parse("--devices 1 --rate -1", {.many_devices = true, .pacing = true, .tokens = false}),
      CLI::ParseError);
  // A subcommand without pacing has no --rate.
  EXPECT_THROW(parse("--device a --rate 1", {.tokens = false}), CLI::ParseError);
}

TEST(Options, TokensNeedAKeyAKeysFileOrAToken) {
  auto o = parse("--hub-host h --device a", {.many_devices = true});
  auto p = prepare(o, true);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code(), core::Code::kInvalidArgument);
  EXPECT_THROW(parse("--device a --key " + std::string(kKey), {.many_devices = true}),
               CLI::ParseError);  // --hub-host is required
}

TEST(Options, AGivenTokenIsForOneDeviceAndPresentedAsIs) {
  auto o = parse("--hub-host h --device a --token TOKEN", {.many_devices = true});
  auto p = prepare(o, true);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->devices[0].token, "TOKEN");
  o = parse("--hub-host h --devices 2 --token TOKEN", {.many_devices = true});
  EXPECT_FALSE(prepare(o, true));
}

TEST(Options, KeysFileGivesEachDeviceItsOwnKey) {
  std::string path = ::testing::TempDir() + "devsim-options-keys";
  {
    std::ofstream f(path);
    f << "dev1 " << kKey << "\nsim1 " << kOtherKey << "\n";
  }
  auto o =
      parse("--hub-host myhub.azure-devices.net --device dev1 --device sim1 --keys-file " + path,
            {.many_devices = true});
  auto p = prepare(o, true);
  std::remove(path.c_str());
  ASSERT_TRUE(p) << p.error().message();
  expect_token_for(p->devices[0].token, "dev1", kKey);
  expect_token_for(p->devices[1].token, "sim1", kOtherKey);
}

TEST(Options, TeaKeyGivesXteaOrWithClassicTea) {
  auto o = parse("--device a --tea-key 00112233445566778899aabbccddeeff", {.tokens = false});
  auto p = prepare(o, false);
  ASSERT_TRUE(p && p->tea);
  EXPECT_EQ(p->tea->variant, tea::Variant::kXtea);
  EXPECT_EQ(p->tea->key[15], 0xff);
  o = parse("--device a --tea-key 00112233445566778899aabbccddeeff --tea-classic",
            {.tokens = false});
  EXPECT_EQ(prepare(o, false)->tea->variant, tea::Variant::kTea);
  o = parse("--device a --tea-key 0011", {.tokens = false});
  auto bad = prepare(o, false);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code(), core::Code::kInvalidArgument);
}

TEST(Options, NoDeviceIsAUsageError) {
  auto o = parse("--count 3", {.many_devices = true, .tokens = false});
  EXPECT_FALSE(prepare(o, false));
}

}  // namespace
}  // namespace holdfast::devsim
