// Every kind of config error, each with its file, line and a reason that says what is expected.
// Documents start on line 1 right after R"toml( so that line numbers can be read off.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "broker/config/config.h"
#include "test/unit/config/config_test_util.h"

namespace holdfast::config {
namespace {

using ::testing::ElementsAre;
using testing::ErrorAt;
using testing::errors_of;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;
using testing::TempDir;

TEST(ConfigErrors, SyntaxErrorHasFileLineAndColumn) {
  auto errors = errors_of(R"toml([store]
path = "x"

[route
)toml",
                          "conf/h.toml");
  ASSERT_THAT(errors, SizeIs(1));
  EXPECT_EQ(errors[0].file, "conf/h.toml");
  EXPECT_EQ(errors[0].line, 4);
  EXPECT_GT(errors[0].column, 0);
  EXPECT_THAT(errors[0].reason, HasSubstr("TOML syntax error"));
  EXPECT_THAT(errors[0].to_string(), ::testing::StartsWith("conf/h.toml:4:"));
}

TEST(ConfigErrors, DuplicateKeyIsASyntaxError) {
  EXPECT_THAT(errors_of("[admin]\nport = 1\nport = 2\n"),
              ElementsAre(ErrorAt(3, "TOML syntax error")));
}

TEST(ConfigErrors, UnknownKeySuggestsANearMiss) {
  EXPECT_THAT(errors_of(R"toml([store]
quta_bytes = "1GiB"
)toml"),
              ElementsAre(ErrorAt(2, 1,
                                  "unknown key \"quta_bytes\" in [store]; did you mean "
                                  "\"quota_bytes\"?")));
}

TEST(ConfigErrors, UnknownKeyFarFromAnyKnownOne) {
  auto errors = errors_of("[log]\ncolour = true\n");
  ASSERT_THAT(errors, ElementsAre(ErrorAt(2, "unknown key \"colour\" in [log]")));
  EXPECT_THAT(errors[0].reason, Not(HasSubstr("did you mean")));
}

TEST(ConfigErrors, UnknownKeyInAnArrayElementAndNestedTables) {
  EXPECT_THAT(
      errors_of(R"toml([[listener]]
protocol = "mqtt"
prot = 1884

[store.rocksdb]
x = 1
)toml"),
      ElementsAre(ErrorAt(3, "unknown key \"prot\" in [[listener]]; did you mean \"port\"?"),
                  ErrorAt(5, "unknown key \"rocksdb\" in [store]")));
}

TEST(ConfigErrors, UnknownSection) {
  EXPECT_THAT(errors_of(R"toml([logs]
level = "debug"

[[listeners]]
protocol = "mqtt"

verbose = true
)toml"),
              ElementsAre(ErrorAt(1, "unknown section \"logs\"; did you mean \"log\"?"),
                          ErrorAt(4, "unknown section \"listeners\"; did you mean \"listener\"?")));
  EXPECT_THAT(errors_of("verbose = true\n"), ElementsAre(ErrorAt(1, "unknown key \"verbose\"")));
}

TEST(ConfigErrors, SectionOfTheWrongShape) {
  EXPECT_THAT(errors_of(R"toml(store = 5
log = []
listener = [1]

[route]
pattern = "a"

[[admin]]
port = 1
)toml"),
              ElementsAre(ErrorAt(1, "store: expected a table [store], got an integer"),
                          ErrorAt(2, "log: expected a table [log], got an array"),
                          ErrorAt(3, "listener: expected a table, got an integer"),
                          ErrorAt(5, "route: expected an array of tables: write [[route]]"),
                          ErrorAt(8,
                                  "admin: expected a single table: write [admin], not "
                                  "[[admin]]")));
}

TEST(ConfigErrors, WrongTypes) {
  EXPECT_THAT(errors_of(R"toml([store]
path = 5
quota_bytes = true
retention_interval = [1]
sync = 1

[[listener]]
protocol = "mqtt"
tls = "yes"
max_connections = 1.5
)toml"),
              ElementsAre(ErrorAt(2, 8, "store.path: expected a path string, got an integer"),
                          ErrorAt(3,
                                  "store.quota_bytes: expected a number of bytes (e.g. "
                                  "1048576) or a string such as \"64KiB\""),
                          ErrorAt(4,
                                  "store.retention_interval: expected a string such as "
                                  "\"250ms\", \"10s\""),
                          ErrorAt(5,
                                  "store.sync: expected one of \"fsync\", \"os\", got an "
                                  "integer"),
                          ErrorAt(9, "listener.tls: expected true or false, got a string"),
                          ErrorAt(10,
                                  "listener.max_connections: expected an integer, got a "
                                  "floating-point number")));
}

TEST(ConfigErrors, OutOfBoundsSaysTheBounds) {
  EXPECT_THAT(
      errors_of(R"toml([store]
max_batch_messages = 0
block_cache_bytes = "512KiB"
retention_interval = "1ms"
min_free_disk_bytes = -1

[[listener]]
protocol = "mqtt"
port = 70000

[[upstream]]
name = "hub"
kind = "emulator"
host = "h"
live_share = 101
window = 0
)toml"),
      ElementsAre(ErrorAt(2, "store.max_batch_messages: must be between 1 and 1000000, got 0"),
                  ErrorAt(3, "store.block_cache_bytes: must be between 1MiB and 64GiB, got 512KiB"),
                  ErrorAt(4, "store.retention_interval: must be between 10ms and 1h, got 1ms"),
                  ErrorAt(5, "store.min_free_disk_bytes: must not be negative, got -1"),
                  ErrorAt(9, 8, "listener.port: must be between 1 and 65535, got 70000"),
                  ErrorAt(15, "upstream.live_share: must be between 0 and 100, got 101"),
                  ErrorAt(16, "upstream.window: must be between 1 and 65535, got 0")));
}

TEST(ConfigErrors, BadEnumListsTheChoices) {
  EXPECT_THAT(
      errors_of(R"toml([store]
sync = "fsnc"
quota_policy = "drop_oldest"

[[listener]]
protocol = "http"

[log]
level = "verbose"
)toml"),
      ElementsAre(ErrorAt(2, "store.sync: expected one of \"fsync\", \"os\", got \"fsnc\""),
                  ErrorAt(3, "expected one of \"reject\", \"drop-oldest\", got \"drop_oldest\""),
                  ErrorAt(6,
                          "listener.protocol: expected one of \"mqtt\", \"amqp\", \"coap\", "
                          "got \"http\""),
                  ErrorAt(9,
                          "log.level: expected one of \"trace\", \"debug\", \"info\", "
                          "\"warn\", \"error\", got \"verbose\"")));
}

TEST(ConfigErrors, BadSizesAndDurationsSayTheAcceptedForms) {
  auto errors = errors_of(R"toml([store]
quota_bytes = "1.5GiB"
write_buffer_bytes = "8 megs"
retention_interval = 5

[[queue_policy]]
pattern = "#"
ttl = "7 days"
)toml");
  ASSERT_THAT(errors, ElementsAre(ErrorAt(2, "store.quota_bytes: \"1.5GiB\" is not a whole number"),
                                  ErrorAt(3, "unknown unit \"megs\""),
                                  ErrorAt(4, "the bare number 5 has no unit"),
                                  ErrorAt(8, "queue_policy.ttl: \"7 days\" has an unknown unit")));
  for (int i : {0, 1}) {
    EXPECT_THAT(errors[i].reason, HasSubstr("units B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"));
  }
  for (int i : {2, 3}) {
    EXPECT_THAT(errors[i].reason, HasSubstr("\"250ms\", \"10s\", \"30m\", \"12h\", \"7d\""));
  }
}

TEST(ConfigErrors, InvalidPatternsAndAddresses) {
  EXPECT_THAT(errors_of(R"toml([[queue_policy]]
pattern = "a/#/b"
dead_letter_queue = "dlq/+"

[[route]]
pattern = "devices/+x"
queue = "q"

[[listener]]
protocol = "mqtt"
bind = "localhost"

[admin]
bind = "300.1.1.1"
)toml"),
              ElementsAre(ErrorAt(2,
                                  "queue_policy.pattern: \"a/#/b\" is not a valid MQTT topic "
                                  "filter"),
                          ErrorAt(3, "\"dlq/+\" is not a valid queue name"),
                          ErrorAt(6,
                                  "route.pattern: \"devices/+x\" is not a valid MQTT topic "
                                  "filter"),
                          ErrorAt(11,
                                  "listener.bind: \"localhost\" is not an IPv4 or IPv6 "
                                  "address"),
                          ErrorAt(14, "admin.bind: \"300.1.1.1\" is not an IPv4 or IPv6")));
}

TEST(ConfigErrors, MissingRequiredKeysAtTheTableHeader) {
  EXPECT_THAT(errors_of(R"toml([[listener]]
port = 1884

[[route]]
pattern = "a/+"

[[upstream]]
window = 8

[[queue_policy]]
ttl = "1d"
)toml"),
              ElementsAre(ErrorAt(1,
                                  "[[listener]] lacks the required key \"protocol\" (one of "
                                  "\"mqtt\", \"amqp\", \"coap\")"),
                          ErrorAt(4, "[[route]] lacks the required key \"queue\" (string)"),
                          ErrorAt(7, "[[upstream]] lacks the required key \"name\""),
                          ErrorAt(7, "[[upstream]] lacks the required key \"kind\""),
                          ErrorAt(7, "[[upstream]] lacks the required key \"host\""),
                          ErrorAt(10, "[[queue_policy]] lacks the required key \"pattern\"")));
}

TEST(ConfigErrors, DuplicateUpstreamNames) {
  EXPECT_THAT(errors_of(R"toml([[upstream]]
name = "hub"
kind = "iothub-amqp"
host = "a.azure-devices.net"

[[upstream]]
name = "hub"
kind = "iothub-mqtt"
host = "b.azure-devices.net"
)toml"),
              ElementsAre(ErrorAt(7, 1,
                                  "upstream.name: \"hub\" is already the name of the "
                                  "[[upstream]] at line 1")));
}

TEST(ConfigErrors, RouteTemplateReferencingAMissingWildcard) {
  EXPECT_THAT(errors_of(R"toml([[route]]
pattern = "devices/+/messages/events"
queue = "iothub/{2}"

[[route]]
pattern = "sensors/#"
queue = "s/{1}/{device}"
)toml"),
              ElementsAre(ErrorAt(3,
                                  "route.queue: template \"iothub/{2}\" references {2}, but the "
                                  "pattern \"devices/+/messages/events\" has 1 '+' wildcard"),
                          ErrorAt(7,
                                  "references {1}, but the pattern \"sensors/#\" has no '+' "
                                  "wildcards")));
}

TEST(ConfigErrors, RouteTemplateIsNotCheckedAgainstABadPattern) {
  // One mistake, one message.
  EXPECT_THAT(errors_of("[[route]]\npattern = \"a/#/b\"\nqueue = \"q/{1}\"\n"),
              ElementsAre(ErrorAt(2, "route.pattern")));
}

TEST(ConfigErrors, RouteNamingAnUnknownUpstream) {
  EXPECT_THAT(errors_of(R"toml([[route]]
pattern = "devices/+/messages/events/#"
queue = "iothub/{1}"
upstream = "hbu"

[[route]]
pattern = "x/#"
queue = "x"
upstream = "cloud"
)toml"),
              ElementsAre(ErrorAt(4, 1,
                                  "route.upstream: no [[upstream]] is named \"hbu\" (declared: "
                                  "\"hub\"); did you mean \"hub\"?"),
                          ErrorAt(9, "no [[upstream]] is named \"cloud\" (declared: \"hub\")")));
}

TEST(ConfigErrors, ReplacedUpstreamsOrphanTheDefaultRoutes) {
  // Arrays replace the defaults: the default routes still send to "hub", which is gone.
  EXPECT_THAT(errors_of(R"toml([admin]
port = 9000

[[upstream]]
name = "cloud"
kind = "iothub-amqp"
host = "h.azure-devices.net"
)toml"),
              ElementsAre(ErrorAt(4,
                                  "the default [[route]] tables (\"devices/+/messages/events/#\", "
                                  "\"devices/+/messages/events\") send to upstream \"hub\", "
                                  "which the [[upstream]] tables of this file do not declare "
                                  "(declared: \"cloud\")")));
  EXPECT_THAT(errors_of("upstream = []\n"), ElementsAre(ErrorAt(0, "send to upstream \"hub\"")));
}

TEST(ConfigErrors, ListenerPortCollisions) {
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "mqtt"

[[listener]]
protocol = "amqp"
bind = "127.0.0.1"
port = 1883

[[listener]]
protocol = "coap"
port = 1883

[[listener]]
protocol = "mqtt"
bind = "::"
port = 5683
)toml"),
              ElementsAre(ErrorAt(7,
                                  "listener.port: 127.0.0.1:1883/tcp collides with the mqtt "
                                  "[[listener]] at line 1 on 0.0.0.0:1883")));
}

TEST(ConfigErrors, SameBindAndPortTwice) {
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "mqtt"
bind = "10.0.0.1"
port = 1883

[[listener]]
protocol = "mqtt"
bind = "10.0.0.2"
port = 1883

[[listener]]
protocol = "amqp"
bind = "10.0.0.1"
port = 1883
)toml"),
              ElementsAre(ErrorAt(14,
                                  "10.0.0.1:1883/tcp collides with the mqtt [[listener]] at "
                                  "line 1")));
}

TEST(ConfigErrors, Ipv6WildcardCollidesWithIpv4) {
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "mqtt"
bind = "127.0.0.1"

[[listener]]
protocol = "mqtt"
bind = "::"
)toml"),
              ElementsAre(ErrorAt(5, "collides")));  // no port key: the table header
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "mqtt"
bind = "::1"

[[listener]]
protocol = "mqtt"
bind = "127.0.0.1"
)toml"),
              IsEmpty());
}

TEST(ConfigErrors, AdminPortCollisions) {
  // The admin endpoint against a default listener: reported at the admin port.
  EXPECT_THAT(errors_of("[admin]\nbind = \"0.0.0.0\"\nport = 5672\n"),
              ElementsAre(ErrorAt(3,
                                  "admin.port: 0.0.0.0:5672/tcp collides with the amqp "
                                  "[[listener]] (a default) on 0.0.0.0:5672")));
  // A listener against the default admin endpoint: reported at the listener, which is in the
  // file.
  EXPECT_THAT(errors_of("[[listener]]\nprotocol = \"mqtt\"\nport = 8088\n"),
              ElementsAre(ErrorAt(3,
                                  "listener.port: 0.0.0.0:8088/tcp collides with [admin] on "
                                  "127.0.0.1:8088")));
  // Port 0 disables the admin endpoint; UDP and TCP do not collide.
  EXPECT_THAT(errors_of("[admin]\nport = 0\n\n[[listener]]\nprotocol = \"coap\"\nport = 8088\n"),
              IsEmpty());
}

TEST(ConfigErrors, TlsWithoutCertificateFiles) {
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "mqtt"
tls = true

[[listener]]
protocol = "amqp"
tls = true
cert_file = "/etc/ssl/certs"
)toml"),
              ElementsAre(ErrorAt(3,
                                  "listener.tls: is true, which requires cert_file (PEM "
                                  "certificate chain) and key_file (PEM private key)"),
                          ErrorAt(7, "listener.tls: is true, which requires key_file"),
                          ErrorAt(8,
                                  "listener.cert_file: \"/etc/ssl/certs\" is not a regular "
                                  "file")));
}

TEST(ConfigErrors, TlsFilesMustExist) {
  TempDir dir;
  dir.write("tls/cert.pem", "cert");
  std::string path = (dir.path() / "holdfast.toml").string();
  auto errors = errors_of(R"toml([[listener]]
protocol = "mqtt"
tls = true
cert_file = "tls/cert.pem"
key_file = "tls/key.pem"
ca_file = "/nonexistent/ca.pem"
)toml",
                          path);
  EXPECT_THAT(
      errors,
      ElementsAre(ErrorAt(5, "listener.key_file: \"" + (dir.path() / "tls/key.pem").string() +
                                 "\" does not exist"),
                  ErrorAt(6, "listener.ca_file: \"/nonexistent/ca.pem\" does not exist")));
  for (const auto& e : errors) EXPECT_EQ(e.file, path);
}

TEST(ConfigErrors, CoapDtlsCertificatesBesidesPreSharedKeys) {
  TempDir dir;
  dir.write("psk.txt", "dev1 0011\n");
  dir.write("c.pem", "c");
  dir.write("k.pem", "k");
  std::string path = (dir.path() / "holdfast.toml").string();
  EXPECT_THAT(errors_of(R"toml([[listener]]
protocol = "coap"
tls = true
psk_file = "psk.txt"
cert_file = "c.pem"

[[listener]]
protocol = "coap"
port = 5685
tls = true
psk_file = "psk.txt"
ca_file = "c.pem"

[[listener]]
protocol = "coap"
port = 5686
tls = true
psk_file = "psk.txt"
cert_file = "c.pem"
key_file = "k.pem"
ca_file = "c.pem"
)toml",
                        path),
              ElementsAre(ErrorAt(5,
                                  "listener.cert_file: needs key_file too (DTLS with "
                                  "certificates besides the pre-shared keys)"),
                          ErrorAt(12,
                                  "listener.ca_file: verifies client certificates, which needs "
                                  "cert_file and key_file")));
}

TEST(ConfigErrors, CertificateFilesWithoutTls) {
  EXPECT_THAT(errors_of("[[listener]]\nprotocol = \"mqtt\"\ncert_file = \"c.pem\"\n"),
              ElementsAre(ErrorAt(3, "listener.cert_file: is set but tls = false")));
}

TEST(ConfigErrors, UpstreamCredentials) {
  TempDir dir;
  auto errors = errors_of(R"toml([[route]]
pattern = "#"
queue = "all"

[[upstream]]
name = "a"
kind = "iothub-amqp"
host = "h"
auth = "device-keys"

[[upstream]]
name = "b"
kind = "iothub-mqtt"
host = "h"
auth = "gateway"

[[upstream]]
name = "c"
kind = "iothub-mqtt"
host = "h"
auth = "gateway"
connection_string = "HostName=h;SharedAccessKey=c2VjcmV0LWtleQ=="

[[upstream]]
name = "d"
kind = "iothub-amqp"
host = "h"
device_keys_file = "keys.csv"
connection_string = "HostName=h;DeviceId=d;SharedAccessKey=k"

[[upstream]]
name = "e"
kind = "iothub-amqp"
host = "h"
auth = "device-keys"
device_keys_file = "keys.csv"
)toml",
                          (dir.path() / "h.toml").string());
  EXPECT_THAT(errors, ElementsAre(ErrorAt(9,
                                          "upstream.auth: is \"device-keys\", which requires "
                                          "device_keys_file"),
                                  ErrorAt(15,
                                          "upstream.auth: is \"gateway\", which requires "
                                          "connection_string"),
                                  ErrorAt(22, "upstream.connection_string: lacks DeviceId"),
                                  ErrorAt(28,
                                          "upstream.device_keys_file: is only used with auth = "
                                          "\"device-keys\""),
                                  ErrorAt(29,
                                          "upstream.connection_string: is only used with auth = "
                                          "\"gateway\""),
                                  ErrorAt(36, "upstream.device_keys_file: \"" +
                                                  (dir.path() / "keys.csv").string() +
                                                  "\" does not exist")));
  for (const auto& e : errors) EXPECT_THAT(e.reason, Not(HasSubstr("c2VjcmV0LWtleQ")));

  // With the file present, device keys are fine.
  dir.write("keys.csv", "");
  EXPECT_THAT(errors_of(R"toml([[upstream]]
name = "e"
kind = "iothub-amqp"
host = "h"
auth = "device-keys"
device_keys_file = "keys.csv"
)toml",
                        (dir.path() / "h.toml").string()),
              ElementsAre(ErrorAt(1, "default [[route]] tables")));
}

TEST(ConfigErrors, SecretsAreNeverEchoed) {
  auto errors = errors_of(R"toml([[upstream]]
name = "hub"
kind = "emulator"
host = "127.0.0.1"
connection_string = 12345678
)toml");
  ASSERT_THAT(errors, ElementsAre(ErrorAt(5, "upstream.connection_string: expected a string")));
  EXPECT_THAT(errors[0].reason, Not(HasSubstr("12345678")));
}

TEST(ConfigErrors, AllErrorsAtOnceInFileOrder) {
  const char* text = R"toml(upstream = []

[store]
sync = "sometimes"
quota_bytes = "lots"
flavour = "vanilla"

[[listener]]
protocol = "mqtt"
port = 0

[[listener]]
protocol = "amqp"
port = 1883

[[queue_policy]]
pattern = "iothub/#"
ttl = "forever"

[log]
level = "loud"
repeat_interval = "often"
)toml";
  auto errors = errors_of(text, "/etc/holdfast/holdfast.toml");
  EXPECT_THAT(errors, ElementsAre(ErrorAt(4, "store.sync"), ErrorAt(5, "store.quota_bytes"),
                                  ErrorAt(6, "unknown key \"flavour\""),
                                  ErrorAt(10, "listener.port"), ErrorAt(18, "queue_policy.ttl"),
                                  ErrorAt(21, "log.level"), ErrorAt(22, "log.repeat_interval"),
                                  ErrorAt(0, "send to upstream \"hub\"")))
      << format_errors(errors);

  auto loaded = load_config_string(text, "/etc/holdfast/holdfast.toml");
  ASSERT_FALSE(loaded.has_value());
  EXPECT_EQ(loaded.error().code(), core::Code::kInvalidArgument);
  std::istringstream lines(loaded.error().message());
  std::vector<std::string> all;
  for (std::string line; std::getline(lines, line);) all.push_back(line);
  ASSERT_THAT(all, SizeIs(8));
  EXPECT_THAT(all[0], ::testing::StartsWith("/etc/holdfast/holdfast.toml:4:8: store.sync: "));
  EXPECT_THAT(all[7], ::testing::StartsWith("/etc/holdfast/holdfast.toml: the default"));
}

TEST(ConfigErrors, PortCollisionsIgnoreListenersWithBadPorts) {
  // Listener 1's port is out of bounds: it is not also reported as colliding with anything.
  EXPECT_THAT(errors_of("[[listener]]\nprotocol = \"mqtt\"\nport = 0\n[[listener]]\n"
                        "protocol = \"amqp\"\nport = 1883\n"),
              ElementsAre(ErrorAt(3, "listener.port: must be between 1 and 65535")));
}

TEST(LoadConfigFile, MissingFileIsNotFound) {
  TempDir dir;
  auto config = load_config_file((dir.path() / "absent.toml").string());
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code(), core::Code::kNotFound);
  EXPECT_THAT(config.error().message(), HasSubstr("absent.toml: cannot read the config"));
}

TEST(LoadConfigFile, DirectoryIsAnIoError) {
  TempDir dir;
  auto config = load_config_file(dir.path().string());
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code(), core::Code::kIoError);
}

TEST(LoadConfigFile, ErrorsNameTheFile) {
  TempDir dir;
  auto path = dir.write("holdfast.toml", "[admin]\nport = -1\n");
  auto config = load_config_file(path);
  ASSERT_FALSE(config.has_value());
  EXPECT_EQ(config.error().code(), core::Code::kInvalidArgument);
  EXPECT_EQ(config.error().message(),
            path + ":2:8: admin.port: must be between 0 and 65535, got -1");
}

TEST(CheckConfigCommand, ReportsOkOrEveryError) {
  TempDir dir;
  auto good = dir.write("good.toml", "[log]\nlevel = \"debug\"\n");
  auto bad = dir.write("bad.toml", "[log]\nlevel = \"loud\"\nfile = 1\n");
  std::ostringstream out, err;
  EXPECT_EQ(check_config_command(good, out, err), 0);
  EXPECT_EQ(out.str(), good + ": OK (3 listeners, 2 routes, 1 upstream, 0 queue policies)\n");
  EXPECT_EQ(err.str(), "");

  out.str("");
  EXPECT_EQ(check_config_command(bad, out, err), 1);
  EXPECT_EQ(out.str(), "");
  EXPECT_EQ(err.str(), bad +
                           ":2:9: log.level: expected one of \"trace\", \"debug\", \"info\", "
                           "\"warn\", \"error\", got \"loud\"\n" +
                           bad + ":3:8: log.file: expected a path string, got an integer\n");

  err.str("");
  EXPECT_EQ(check_config_command((dir.path() / "none.toml").string(), out, err), 1);
  EXPECT_THAT(err.str(), HasSubstr("none.toml: cannot read the config"));
}

}  // namespace
}  // namespace holdfast::config
