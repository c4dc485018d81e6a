// Defaults, merging, array replacement, path resolution, the printed documents and
// conf/holdfast.toml.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "broker/config/config.h"
#include "test/unit/config/config_test_util.h"

namespace holdfast::config {
namespace {

using std::chrono::milliseconds;
using testing::errors_of;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::TempDir;

Config load(std::string_view text, std::string_view path = "holdfast.toml") {
  auto config = parse_config(text, path);
  EXPECT_TRUE(config.has_value()) << (config ? "" : format_errors(config.error()));
  return config.value_or(Config{});
}

TEST(DefaultConfig, IsWhatTheIssueAsksFor) {
  Config c = default_config();
  EXPECT_EQ(c.source, "");

  EXPECT_EQ(c.store.path, "data/store");
  EXPECT_EQ(c.store.sync, SyncMode::kFsync);
  EXPECT_EQ(c.store.quota_bytes, 0u);
  EXPECT_EQ(c.store.quota_policy, core::OverflowPolicy::kReject);
  EXPECT_EQ(c.store.min_free_disk_bytes, 64u << 20);
  EXPECT_EQ(c.store.block_cache_bytes, 8u << 20);
  EXPECT_EQ(c.store.write_buffer_bytes, 8u << 20);
  EXPECT_EQ(c.store.max_batch_messages, 4096u);
  EXPECT_EQ(c.store.max_batch_bytes, 4u << 20);
  EXPECT_EQ(c.store.retention_interval, milliseconds(1000));

  EXPECT_THAT(c.queue_policies, IsEmpty());

  ASSERT_THAT(c.listeners, SizeIs(3));
  const std::pair<core::Protocol, int> expected[] = {
      {core::Protocol::kMqtt, 1883}, {core::Protocol::kAmqp, 5672}, {core::Protocol::kCoap, 5683}};
  for (int i = 0; i < 3; ++i) {
    const auto& l = c.listeners[i];
    EXPECT_EQ(l.protocol, expected[i].first);
    EXPECT_EQ(l.port, expected[i].second);
    EXPECT_EQ(l.bind, "0.0.0.0");
    EXPECT_EQ(l.max_connections, 10000u);
    EXPECT_EQ(l.max_packet_bytes, 512u << 10);
    EXPECT_FALSE(l.tls);
    EXPECT_EQ(l.cert_file, "");
  }

  ASSERT_THAT(c.routes, SizeIs(2));
  EXPECT_EQ(c.routes[0], (RouteSetting{"devices/+/messages/events/#", "iothub/{1}", "hub"}));
  EXPECT_EQ(c.routes[1], (RouteSetting{"devices/+/messages/events", "iothub/{1}", "hub"}));

  ASSERT_THAT(c.upstreams, SizeIs(1));
  const auto& hub = c.upstreams[0];
  EXPECT_EQ(hub.name, "hub");
  EXPECT_EQ(hub.kind, UpstreamKind::kEmulator);
  EXPECT_EQ(hub.host, "127.0.0.1");
  EXPECT_EQ(hub.port, 5671);
  EXPECT_EQ(hub.auth, UpstreamAuth::kTokenPassthrough);
  EXPECT_EQ(hub.window, 64u);
  EXPECT_EQ(hub.batch, 16u);
  EXPECT_EQ(hub.live_share, 25u);
  EXPECT_EQ(hub.backlog_age, std::chrono::seconds(10));
  EXPECT_EQ(hub.connection_string, "");

  EXPECT_EQ(c.admin.bind, "127.0.0.1");
  EXPECT_EQ(c.admin.port, 8088);
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.log.file, "");
  EXPECT_EQ(c.log.repeat_interval, milliseconds(10'000));
}

TEST(DefaultConfig, IsWhatAnEmptyFileMeans) {
  Config expected = default_config();
  expected.source = "holdfast.toml";
  EXPECT_EQ(load(""), expected);
  EXPECT_EQ(load("# nothing but a comment\n\n"), expected);
  EXPECT_EQ(load("[store]\n[admin]\n[log]\n"), expected);
}

TEST(DefaultConfig, PrintedDocumentLoadsBackToTheDefaults) {
  Config expected = default_config();
  expected.source = "holdfast.toml";
  EXPECT_EQ(load(print_default_config()), expected);
}

TEST(DefaultConfig, PrintedDocumentDocumentsEverySetting) {
  std::string text = print_default_config();
  for (std::string_view line : {
           "# Directory of the store, created if missing; relative to this file's directory.",
           "# (path; default \"data/store\")",
           "path = \"data/store\"",
           "# (size, between 1MiB and 64GiB; default \"8MiB\")",
           "block_cache_bytes = \"8MiB\"",
           "# (integer, between 1 and 1000000; default 4096)",
           "# (one of \"mqtt\", \"amqp\", \"coap\"; required)",
           "# (duration; default \"0s\")",
           "# pattern = \"iothub/#\"",
           "# (string, secret; default \"\")",
           "retention_interval = \"1s\"",
       }) {
    EXPECT_THAT(text, HasSubstr(std::string(line) + "\n")) << line;
  }
  // Every line fits the repository's 100 columns.
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

// conf/holdfast.toml is the output of `holdfastd --print-default-config`, byte for byte, so that
// the documented file cannot drift from the program. HOLDFAST_UPDATE_CONF=1 rewrites it.
TEST(DefaultConfig, CommittedConfFileIsThePrintedDefault) {
  const std::string path = std::string(HOLDFAST_SOURCE_DIR) + "/conf/holdfast.toml";
  const std::string expected = print_default_config();
  if (std::getenv("HOLDFAST_UPDATE_CONF") != nullptr) {
    std::ofstream(path, std::ios::binary) << expected;
  }
  std::ifstream in(path, std::ios::binary);
  ASSERT_TRUE(in) << "cannot read " << path;
  std::stringstream committed;
  committed << in.rdbuf();
  EXPECT_TRUE(committed.str() == expected)
      << path << " differs from `holdfastd --print-default-config`; regenerate it with\n"
      << "  HOLDFAST_UPDATE_CONF=1 config_test --gtest_filter='*CommittedConfFile*'";
  // And it loads (against its real directory) to the defaults with paths resolved.
  auto loaded = load_config_file(path);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->store.path, std::string(HOLDFAST_SOURCE_DIR) + "/conf/data/store");
}

TEST(Merging, ScalarSectionsKeepTheDefaultsOfAbsentKeys) {
  Config c = load("[store]\nquota_bytes = \"1GiB\"\nquota_policy = \"drop-oldest\"\n");
  Config expected = default_config();
  expected.source = "holdfast.toml";
  expected.store.quota_bytes = 1ull << 30;
  expected.store.quota_policy = core::OverflowPolicy::kDropOldest;
  EXPECT_EQ(c, expected);
}

TEST(Merging, ArraysInTheFileReplaceTheDefaultArray) {
  Config c = load(R"toml([[listener]]
protocol = "amqp"
bind = "127.0.0.1"
max_connections = 50
)toml");
  ASSERT_THAT(c.listeners, SizeIs(1));
  EXPECT_EQ(c.listeners[0].protocol, core::Protocol::kAmqp);
  EXPECT_EQ(c.listeners[0].port, 5672);
  EXPECT_EQ(c.listeners[0].bind, "127.0.0.1");
  EXPECT_EQ(c.listeners[0].max_connections, 50u);
  EXPECT_EQ(c.listeners[0].max_packet_bytes, 512u << 10);  // element defaults still apply
  // The other arrays keep their defaults.
  EXPECT_EQ(c.routes, default_config().routes);
  EXPECT_EQ(c.upstreams, default_config().upstreams);
}

TEST(Merging, AnEmptyArrayRemovesTheDefaults) {
  Config c = load("listener = []\nroute = []\n");
  EXPECT_THAT(c.listeners, IsEmpty());
  EXPECT_THAT(c.routes, IsEmpty());
  EXPECT_THAT(c.upstreams, SizeIs(1));
}

TEST(Merging, InlineTablesWork) {
  Config c = load(R"toml(route = [
  { pattern = "a/+", queue = "a/{1}" },
  { pattern = "b/#", queue = "b", upstream = "hub" },
]
)toml");
  ASSERT_THAT(c.routes, SizeIs(2));
  EXPECT_EQ(c.routes[0], (RouteSetting{"a/+", "a/{1}", ""}));
  EXPECT_EQ(c.routes[1], (RouteSetting{"b/#", "b", "hub"}));
}

TEST(Merging, PortsDefaultByProtocolKindAndTls) {
  TempDir dir;
  dir.write("c.pem", "c");
  dir.write("k.pem", "k");
  Config c = load(R"toml([[listener]]
protocol = "coap"

[[listener]]
protocol = "mqtt"
tls = true
cert_file = "c.pem"
key_file = "k.pem"

[[listener]]
protocol = "amqp"
tls = true
cert_file = "c.pem"
key_file = "k.pem"

[[listener]]
protocol = "coap"
tls = true
cert_file = "c.pem"
key_file = "k.pem"

[[upstream]]
name = "hub"
kind = "iothub-mqtt"
host = "h.azure-devices.net"

[[upstream]]
name = "amqp"
kind = "iothub-amqp"
host = "h.azure-devices.net"

[[upstream]]
name = "sim"
kind = "emulator"
host = "::1"
port = 15671
)toml",
                  (dir.path() / "holdfast.toml").string());
  ASSERT_THAT(c.listeners, SizeIs(4));
  EXPECT_EQ(c.listeners[0].port, 5683);
  EXPECT_EQ(c.listeners[1].port, 8883);
  EXPECT_EQ(c.listeners[2].port, 5671);
  EXPECT_EQ(c.listeners[3].port, 5684);
  EXPECT_EQ(c.listeners[1].cert_file, (dir.path() / "c.pem").string());
  ASSERT_THAT(c.upstreams, SizeIs(3));
  EXPECT_EQ(c.upstreams[0].port, 8883);
  EXPECT_EQ(c.upstreams[1].port, 5671);
  EXPECT_EQ(c.upstreams[2].port, 15671);
}

TEST(Merging, QueuePoliciesMapToStoragePolicies) {
  Config c = load(R"toml([[queue_policy]]
pattern = "iothub/#"
ttl = "7d"
max_bytes = "256MiB"
overflow = "drop-oldest"
dead_letter_queue = "dead-letter/iothub"

[[queue_policy]]
pattern = "#"
)toml");
  ASSERT_THAT(c.queue_policies, SizeIs(2));
  EXPECT_EQ(c.queue_policies[0].pattern, "iothub/#");
  EXPECT_EQ(c.queue_policies[0].policy(),
            (core::QueuePolicy{.ttl_ms = 7 * 86'400'000LL,
                               .max_bytes = 256ull << 20,
                               .overflow = core::OverflowPolicy::kDropOldest,
                               .dead_letter_queue = "dead-letter/iothub"}));
  EXPECT_EQ(c.queue_policies[1].policy(), core::QueuePolicy{});
}

TEST(Merging, SizesAcceptIntegersAndUnits) {
  Config c = load(R"toml([store]
quota_bytes = 1073741824
min_free_disk_bytes = "10MB"
block_cache_bytes = "16 MiB"
write_buffer_bytes = 4194304
)toml");
  EXPECT_EQ(c.store.quota_bytes, 1073741824u);
  EXPECT_EQ(c.store.min_free_disk_bytes, 10'000'000u);
  EXPECT_EQ(c.store.block_cache_bytes, 16u << 20);
  EXPECT_EQ(c.store.write_buffer_bytes, 4u << 20);
}

TEST(Paths, RelativePathsResolveAgainstTheConfigDirectory) {
  TempDir dir;
  dir.write("keys/devices.csv", "");
  std::string file = (dir.path() / "etc" / "holdfast.toml").string();
  Config c = load(R"toml([store]
path = "../var/store"

[log]
file = "log/holdfastd.log"

[[upstream]]
name = "hub"
kind = "iothub-amqp"
host = "h.azure-devices.net"
auth = "device-keys"
device_keys_file = "../keys/devices.csv"
ca_file = ""
)toml",
                  file);
  EXPECT_EQ(c.source, file);
  EXPECT_EQ(c.store.path, (dir.path() / "var/store").string());
  EXPECT_EQ(c.log.file, (dir.path() / "etc/log/holdfastd.log").string());
  EXPECT_EQ(c.upstreams[0].device_keys_file, (dir.path() / "keys/devices.csv").string());
  EXPECT_EQ(c.upstreams[0].ca_file, "");  // empty stays empty
}

TEST(Paths, DefaultsResolveToo) {
  EXPECT_EQ(load("", "/etc/holdfast/holdfast.toml").store.path, "/etc/holdfast/data/store");
  EXPECT_EQ(load("", "holdfast.toml").store.path, "data/store");
  EXPECT_EQ(load("[store]\npath = \"/var/lib/holdfast\"\n", "/etc/h.toml").store.path,
            "/var/lib/holdfast");
}

TEST(Paths, LoadConfigFileResolvesAgainstTheAbsoluteDirectory) {
  TempDir dir;
  auto path = dir.write("conf/holdfast.toml", "[store]\npath = \"store\"\n");
  auto relative = std::filesystem::relative(path);  // relative to the working directory
  auto config = load_config_file(relative.string());
  ASSERT_TRUE(config.has_value()) << config.error().message();
  EXPECT_EQ(config->source, relative.string());
  EXPECT_EQ(config->store.path, (dir.path() / "conf/store").string());
}

TEST(PrintConfig, RoundTripsACustomConfigAndRedactsSecrets) {
  TempDir dir;
  std::string file = (dir.path() / "holdfast.toml").string();
  Config c = load(R"toml(listener = []

[store]
path = "/var/lib/holdfast"
sync = "os"
quota_bytes = 1000

[[queue_policy]]
pattern = "iothub/#"
ttl = "90m"

[[route]]
pattern = "say \"hi\"/+"
queue = "q/{1}"
upstream = "gw"

[[upstream]]
name = "gw"
kind = "iothub-mqtt"
host = "h.azure-devices.net"
auth = "gateway"
connection_string = "HostName=h;DeviceId=gw;SharedAccessKey=dG9wLXNlY3JldA=="

[log]
level = "debug"
)toml",
                  file);
  std::string printed = print_config(c);
  EXPECT_THAT(printed, Not(HasSubstr("dG9wLXNlY3JldA")));
  EXPECT_THAT(printed, HasSubstr("connection_string = "
                                 "\"HostName=h;DeviceId=gw;SharedAccessKey=<redacted>\"\n"));
  EXPECT_THAT(printed, HasSubstr("\nlistener = []\n"));
  EXPECT_THAT(printed, HasSubstr("loaded from " + file));

  // Loads back to the same config, but for the redacted secret.
  Config again = load(printed, file);
  ASSERT_THAT(again.upstreams, SizeIs(1));
  EXPECT_EQ(again.upstreams[0].connection_string,
            "HostName=h;DeviceId=gw;SharedAccessKey=<redacted>");
  again.upstreams[0].connection_string = c.upstreams[0].connection_string;
  EXPECT_EQ(again, c);
}

TEST(Describe, ListsEverySettingWithItsMeta) {
  std::string text = describe_settings();
  for (std::string_view key :
       {"store.path", "store.quota_bytes", "store.retention_interval", "queue_policy.ttl",
        "listener.protocol", "listener.cert_file", "route.queue", "upstream.live_share",
        "admin.port", "log.repeat_interval"}) {
    EXPECT_THAT(text, HasSubstr("  " + std::string(key) + "\n")) << key;
  }
  EXPECT_THAT(text, HasSubstr("(integer, between 1 and 65535; default: 1883 for mqtt"));
  EXPECT_THAT(text, HasSubstr("[[listener]]\n"));
}

TEST(Names, AreTheWordsOfTheFile) {
  EXPECT_EQ(sync_mode_name(SyncMode::kOs), "os");
  EXPECT_EQ(overflow_policy_name(core::OverflowPolicy::kDropOldest), "drop-oldest");
  EXPECT_EQ(upstream_kind_name(UpstreamKind::kIotHubAmqp), "iothub-amqp");
  EXPECT_EQ(upstream_auth_name(UpstreamAuth::kTokenPassthrough), "token-passthrough");
  EXPECT_EQ(log_level_name(LogLevel::kWarn), "warn");
}

}  // namespace
}  // namespace holdfast::config
