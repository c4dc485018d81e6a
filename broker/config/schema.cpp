// The one place where the settings of holdfast.toml are declared. Keep each doc to one line:
// it is printed above the key in conf/holdfast.toml and in --help.

#include "broker/config/schema.h"

#include <arpa/inet.h>

#include <filesystem>

#include "broker/config/queue_template.h"
#include "broker/core/address.h"

namespace holdfast::config::schema {
namespace {

constexpr std::int64_t kKiB = 1 << 10;
constexpr std::int64_t kMiB = 1 << 20;
constexpr std::int64_t kGiB = 1 << 30;
constexpr std::int64_t kSecond = 1000;
constexpr std::int64_t kHour = 3600 * kSecond;

const std::string& as_string(const Value& v) {
  return std::get<std::string>(v);
}

std::string not_empty(const Value& v) {
  return as_string(v).empty() ? "must not be empty" : "";
}

std::string topic_filter(const Value& v) {
  if (core::is_valid_topic_filter(as_string(v))) return "";
  return "\"" + as_string(v) +
         "\" is not a valid MQTT topic filter: 1..65535 bytes, '+' and '#' each a whole level, "
         "'#' only as the last level";
}

std::string optional_queue_name(const Value& v) {
  const std::string& name = as_string(v);
  if (name.empty() || core::is_valid_topic_name(name)) return "";
  return "\"" + name + "\" is not a valid queue name: 1..65535 bytes without '+', '#' or NUL";
}

std::string ip_address(const Value& v) {
  const std::string& text = as_string(v);
  unsigned char buffer[16];
  if (inet_pton(AF_INET, text.c_str(), buffer) == 1) return "";
  if (inet_pton(AF_INET6, text.c_str(), buffer) == 1) return "";
  return "\"" + text +
         "\" is not an IPv4 or IPv6 address; expected e.g. \"0.0.0.0\" (every IPv4 interface), "
         "\"127.0.0.1\", \"::\" or \"::1\"";
}

std::string upstream_name(const Value& v) {
  const std::string& name = as_string(v);
  if (name.empty()) return "must not be empty";
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.';
    if (!ok) {
      return "\"" + name + "\" may contain only letters, digits, '-', '_' and '.'";
    }
  }
  return "";
}

std::string host_name(const Value& v) {
  const std::string& host = as_string(v);
  if (host.empty()) return "must not be empty";
  if (host.find_first_of(" \t/") != std::string::npos) {
    return "\"" + host + "\" is not a host name or address (no spaces, no '/', no scheme)";
  }
  return "";
}

// Empty when `file` names an existing regular file.
std::string missing_file(const std::string& file) {
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::exists(status)) {
    return "\"" + file + "\" does not exist";
  }
  if (!std::filesystem::is_regular_file(status)) {
    return "\"" + file + "\" is not a regular file";
  }
  return "";
}

// A file-valued key must name an existing file when set.
void check_file(ElementProblems& problems, std::string_view key, const std::string& file) {
  if (file.empty() || !problems.fine(key)) return;
  if (auto reason = missing_file(file); !reason.empty()) problems.error(key, reason);
}

std::uint16_t listener_port(core::Protocol protocol, bool tls) {
  switch (protocol) {
    case core::Protocol::kMqtt:
      return tls ? 8883 : 1883;
    case core::Protocol::kAmqp:
      return tls ? 5671 : 5672;
    case core::Protocol::kCoap:
      return tls ? 5684 : 5683;
    default:
      return 0;
  }
}

std::uint16_t upstream_port(UpstreamKind kind) {
  return kind == UpstreamKind::kIotHubMqtt ? 8883 : 5671;
}

void check_listener(const ListenerSetting& l, ElementProblems& problems) {
  const std::array<std::pair<std::string_view, const std::string*>, 3> files{{
      {"cert_file", &l.cert_file},
      {"key_file", &l.key_file},
      {"ca_file", &l.ca_file},
  }};
  if (!problems.fine("tls")) return;
  bool coap = l.protocol == core::Protocol::kCoap;
  if (!coap && l.rate_limit != 0 && problems.fine("rate_limit")) {
    problems.error("rate_limit", "is a CoAP setting; remove it from this listener");
  }
  if (!l.psk_file.empty() && problems.fine("psk_file") && (!coap || !l.tls)) {
    problems.error("psk_file", "is for CoAP listeners with tls = true (DTLS) only");
  }
  if (coap && l.tls && !l.psk_file.empty()) {
    // DTLS with pre-shared keys needs no certificate (without psk_file: the checks below);
    // certificates alongside need both files, and a client CA needs them.
    check_file(problems, "psk_file", l.psk_file);
    if (l.cert_file.empty() != l.key_file.empty()) {
      bool cert = !l.cert_file.empty();
      if (problems.fine(cert ? "cert_file" : "key_file")) {
        problems.error(cert ? "cert_file" : "key_file",
                       std::string("needs ") + (cert ? "key_file" : "cert_file") +
                           " too (DTLS with certificates besides the pre-shared keys)");
      }
    } else if (l.cert_file.empty() && !l.ca_file.empty() && problems.fine("ca_file")) {
      problems.error("ca_file", "verifies client certificates, which needs cert_file and key_file");
    }
    for (auto [key, value] : files) check_file(problems, key, *value);
    return;
  }
  if (!l.tls) {
    for (auto [key, value] : files) {
      if (!value->empty() && problems.fine(key)) {
        problems.error(key, "is set but tls = false; set tls = true to serve TLS, or remove it");
      }
    }
    return;
  }
  std::string missing;
  if (l.cert_file.empty()) missing = "cert_file (PEM certificate chain)";
  if (l.key_file.empty()) {
    missing += std::string(missing.empty() ? "" : " and ") + "key_file (PEM private key)";
  }
  if (!missing.empty()) problems.error("tls", "is true, which requires " + missing);
  for (auto [key, value] : files) check_file(problems, key, *value);
}

void check_route(const RouteSetting& r, ElementProblems& problems) {
  if (!problems.fine("pattern") || !problems.fine("queue")) return;
  if (auto status = check_queue_template(r.pattern, r.queue); !status.ok()) {
    problems.error("queue", "template \"" + r.queue + "\" " + status.message());
  }
}

void check_upstream(const UpstreamSetting& u, ElementProblems& problems) {
  check_file(problems, "ca_file", u.ca_file);
  if (!problems.fine("auth")) return;
  bool keys = u.auth == UpstreamAuth::kDeviceKeys;
  bool gateway = u.auth == UpstreamAuth::kGateway;
  if (keys && u.device_keys_file.empty()) {
    problems.error("auth", "is \"device-keys\", which requires device_keys_file");
  } else if (keys) {
    check_file(problems, "device_keys_file", u.device_keys_file);
  } else if (!u.device_keys_file.empty() && problems.fine("device_keys_file")) {
    problems.error("device_keys_file",
                   "is only used with auth = \"device-keys\"; remove it or change auth");
  }
  if (!problems.fine("connection_string")) return;
  if (!gateway) {
    if (!u.connection_string.empty()) {
      problems.error("connection_string",
                     "is only used with auth = \"gateway\"; remove it or change auth");
    }
    return;
  }
  if (u.connection_string.empty()) {
    problems.error("auth", "is \"gateway\", which requires connection_string");
    return;
  }
  // The value is a secret: name what is missing, never echo it.
  std::string missing;
  for (std::string_view part : {"HostName=", "DeviceId=", "SharedAccessKey="}) {
    if (u.connection_string.find(part) == std::string::npos) {
      missing += missing.empty() ? "" : ", ";
      missing += part.substr(0, part.size() - 1);
    }
  }
  if (!missing.empty()) {
    problems.error(
        "connection_string",
        "lacks " + missing + "; expected \"HostName=...;DeviceId=...;SharedAccessKey=...\"");
  }
}

Schema build() {
  Schema s;

  s.store = {
      .name = "store",
      .doc =
          "The durable queue store (RocksDB). A device is acknowledged only once its message "
          "is stored here.",
      .settings =
          {
              path("path", &StoreSettings::path, "data/store",
                   "Directory of the store, created if missing; relative to this file's directory.")
                  .validated(not_empty),
              choice("sync", &StoreSettings::sync, kSyncModes, "fsync",
                     "\"fsync\": acked messages survive a power cut; \"os\": only a crash of "
                     "holdfastd, but far fewer flash writes."),
              size("quota_bytes", &StoreSettings::quota_bytes, "0",
                   "Byte quota over all queues (stored record bytes, not disk usage); 0 = "
                   "unlimited."),
              choice(
                  "quota_policy", &StoreSettings::quota_policy, kOverflowPolicies, "reject",
                  "When the quota is reached: \"reject\" new messages, or \"drop-oldest\" stored "
                  "ones (counted, dead-lettered if configured)."),
              size("min_free_disk_bytes", &StoreSettings::min_free_disk_bytes, "64MiB",
                   "Refuse new messages while the store's filesystem has less free space than "
                   "this."),
              size("block_cache_bytes", &StoreSettings::block_cache_bytes, "8MiB",
                   "RocksDB block cache (data, index and filter blocks): bounds the store's read "
                   "memory.")
                  .bounds(kMiB, 64 * kGiB),
              size("write_buffer_bytes", &StoreSettings::write_buffer_bytes, "8MiB",
                   "Size of one RocksDB memtable (at most two per column family).")
                  .bounds(kMiB, kGiB),
              integer(
                  "max_batch_messages", &StoreSettings::max_batch_messages, "4096",
                  "Group commit: most messages per write (one fsync each); 1 turns group commit "
                  "off.")
                  .bounds(1, 1'000'000),
              size("max_batch_bytes", &StoreSettings::max_batch_bytes, "4MiB",
                   "Group commit: most bytes per write (a larger single message is still written).")
                  .bounds(4 * kKiB, 256 * kMiB),
              duration("retention_interval", &StoreSettings::retention_interval, "1s",
                       "How often the store looks for messages past their queue's ttl.")
                  .bounds(10, kHour),
          },
  };

  s.queue_policy = {
      .name = "queue_policy",
      .is_array = true,
      .doc =
          "Retention per queue. The first [[queue_policy]] whose pattern matches a queue's name "
          "applies; queues no pattern matches keep their messages until consumed, within "
          "the store quota.",
      .settings =
          {
              text("pattern", &QueuePolicySetting::pattern, "",
                   "MQTT topic filter over queue names, e.g. \"iothub/#\".")
                  .mandatory()
                  .validated(topic_filter),
              duration("ttl", &QueuePolicySetting::ttl, "0s",
                       "Messages older than this are dropped (or dead-lettered); \"0s\" keeps them "
                       "forever."),
              size("max_bytes", &QueuePolicySetting::max_bytes, "0",
                   "Byte quota of each matching queue; 0 = only the store quota applies."),
              choice("overflow", &QueuePolicySetting::overflow, kOverflowPolicies, "reject",
                     "When a queue is full: \"reject\" new messages, or \"drop-oldest\" stored "
                     "ones."),
              text("dead_letter_queue", &QueuePolicySetting::dead_letter_queue, "",
                   "Queue receiving expired and dropped messages; empty = they are discarded "
                   "(and counted).")
                  .validated(optional_queue_name),
          },
      .example = {{"pattern", "iothub/#"},
                  {"ttl", "7d"},
                  {"max_bytes", "256MiB"},
                  {"overflow", "drop-oldest"},
                  {"dead_letter_queue", "dead-letter/iothub"}},
  };

  s.listener = {
      .name = "listener",
      .is_array = true,
      .doc =
          "Sockets devices connect to: MQTT and AMQP over TCP, CoAP over UDP. [[listener]] "
          "tables in a file replace these defaults; `listener = []` means none.",
      .settings =
          {
              choice("protocol", &ListenerSetting::protocol, kListenerProtocols, "",
                     "Protocol spoken on this socket.")
                  .mandatory(),
              text("bind", &ListenerSetting::bind, "0.0.0.0",
                   "Local address, an IPv4 or IPv6 literal; \"0.0.0.0\" = every IPv4 interface, "
                   "\"::\" = every interface.")
                  .validated(ip_address),
              integer("port", &ListenerSetting::port, "", "Local port.")
                  .bounds(1, 65535)
                  .computed(
                      "1883 for mqtt, 5672 for amqp, 5683 for coap; with tls 8883, 5671, 5684"),
              integer("max_connections", &ListenerSetting::max_connections, "10000",
                      "Most concurrent connections (CoAP: client endpoints); further ones are "
                      "refused.")
                  .bounds(1, 1'000'000),
              size("max_packet_bytes", &ListenerSetting::max_packet_bytes, "512KiB",
                   "Largest MQTT packet, AMQP message or CoAP body accepted (IoT Hub takes up to "
                   "256KiB).")
                  .bounds(kKiB, 256 * kMiB),
              flag("tls", &ListenerSetting::tls, "false",
                   "Serve TLS (DTLS for CoAP) with cert_file and key_file."),
              path("cert_file", &ListenerSetting::cert_file, "",
                   "PEM certificate chain shown to clients; required when tls = true."),
              path("key_file", &ListenerSetting::key_file, "",
                   "PEM private key of cert_file; required when tls = true."),
              path("ca_file", &ListenerSetting::ca_file, "",
                   "PEM CA bundle verifying client certificates; empty = clients need none."),
              integer("max_subscriptions", &ListenerSetting::max_subscriptions, "100",
                      "MQTT: most subscriptions per client; more are refused in the SUBACK.")
                  .bounds(1, 100'000),
              integer("max_topic_bytes", &ListenerSetting::max_topic_bytes, "1024",
                      "MQTT: longest topic or filter; a longer one closes the connection.")
                  .bounds(16, 65'535),
              integer("receive_maximum", &ListenerSetting::receive_maximum, "256",
                      "MQTT: QoS 1/2 publishes a client may have unacknowledged before reading "
                      "pauses.")
                  .bounds(1, 65'535),
              integer("max_inflight", &ListenerSetting::max_inflight, "64",
                      "MQTT: QoS 1/2 messages sent to a subscriber and not yet acknowledged.")
                  .bounds(1, 65'535),
              integer("max_queued_messages", &ListenerSetting::max_queued_messages, "1000",
                      "MQTT: messages waiting for a slow or offline subscriber; beyond, the oldest "
                      "is dropped.")
                  .bounds(1, 10'000'000),
              flag("require_device_auth", &ListenerSetting::require_device_auth, "false",
                   "AMQP: links to devices/{id}/... need a valid SAS token for that device "
                   "($cbs put-token or SASL PLAIN)."),
              duration("idle_timeout", &ListenerSetting::idle_timeout, "4m",
                       "AMQP: silent connections are closed after this (announced to peers); "
                       "also the time to open one.")
                  .bounds(1000, kHour),
              path("psk_file", &ListenerSetting::psk_file, "",
                   "CoAP DTLS (tls = true): \"identity key-hex\" lines; a client's PSK identity is "
                   "its device id."),
              integer("rate_limit", &ListenerSetting::rate_limit, "0",
                      "CoAP: requests per second from one source IP address, beyond which 4.29 "
                      "answers; 0 = unlimited.")
                  .bounds(0, 1'000'000),
          },
      .default_elements = {{{"protocol", "mqtt"}}, {{"protocol", "amqp"}}, {{"protocol", "coap"}}},
      .complete =
          [](ListenerSetting& l) {
            if (l.port == 0) l.port = listener_port(l.protocol, l.tls);
          },
      .check = check_listener,
  };

  s.route = {
      .name = "route",
      .is_array = true,
      .doc =
          "Where incoming messages are stored: in every distinct queue named by a route whose "
          "pattern matches the message's address. [[route]] tables in a file replace these "
          "defaults.",
      .settings =
          {
              text("pattern", &RouteSetting::pattern, "",
                   "MQTT topic filter over addresses (MQTT topics, AMQP addresses, CoAP paths).")
                  .mandatory()
                  .validated(topic_filter),
              text("queue", &RouteSetting::queue, "",
                   "Queue name template: {1}, {2} = levels matched by the 1st, 2nd '+'; {device} = "
                   "IoT Hub device id.")
                  .mandatory(),
              text("upstream", &RouteSetting::upstream, "",
                   "Name of the [[upstream]] that drains the queue; empty = local consumers only."),
          },
      .default_elements = {{{"pattern", "devices/+/messages/events/#"},
                            {"queue", "iothub/{1}"},
                            {"upstream", "hub"}},
                           {{"pattern", "devices/+/messages/events"},
                            {"queue", "iothub/{1}"},
                            {"upstream", "hub"}}},
      .check = check_route,
  };

  s.upstream = {
      .name = "upstream",
      .is_array = true,
      .doc =
          "Cloud endpoints the bridge forwards queues to over TLS. [[upstream]] tables in a "
          "file replace these defaults.",
      .settings =
          {
              text("name", &UpstreamSetting::name, "", "Unique name; routes refer to it.")
                  .mandatory()
                  .validated(upstream_name),
              choice("kind", &UpstreamSetting::kind, kUpstreamKinds, "",
                     "Azure IoT Hub over AMQP 1.0 or MQTT 3.1.1, or holdfast-hubsim (the "
                     "emulator).")
                  .mandatory(),
              text("host", &UpstreamSetting::host, "",
                   "Host name or address of the endpoint, e.g. \"myhub.azure-devices.net\".")
                  .mandatory()
                  .validated(host_name),
              integer("port", &UpstreamSetting::port, "", "Port of the endpoint.")
                  .bounds(1, 65535)
                  .computed("5671 for iothub-amqp and emulator, 8883 for iothub-mqtt"),
              path("ca_file", &UpstreamSetting::ca_file, "",
                   "PEM CA bundle verifying the endpoint's certificate; empty = the system trust "
                   "store."),
              choice(
                  "auth", &UpstreamSetting::auth, kUpstreamAuths, "token-passthrough",
                  "Identity: mint tokens from device keys, reuse the devices' own tokens, or one "
                  "gateway identity."),
              path("device_keys_file", &UpstreamSetting::device_keys_file, "",
                   "File of device ids and keys (format: see conf/); required when auth = "
                   "\"device-keys\"."),
              text("connection_string", &UpstreamSetting::connection_string, "",
                   "Secret \"HostName=...;DeviceId=...;SharedAccessKey=...\"; required when auth = "
                   "\"gateway\".")
                  .as_secret(),
              integer("window", &UpstreamSetting::window, "64",
                      "Most messages sent to the endpoint and not yet acknowledged.")
                  .bounds(1, 65535),
              integer("batch", &UpstreamSetting::batch, "16",
                      "Most messages in one IoT Hub batch transfer (AMQP upstreams; within 256 "
                      "KiB); 1 sends each alone.")
                  .bounds(1, 1000),
              integer("live_share", &UpstreamSetting::live_share, "25",
                      "Percent of the window for fresh messages while a backlog drains; 0 keeps "
                      "each device's messages in queue order.")
                  .bounds(0, 100),
              duration("backlog_age", &UpstreamSetting::backlog_age, "10s",
                       "A queue whose oldest unsent message waited this long (with a window "
                       "behind it) drains as a backlog.")
                  .bounds(100, kHour),
              choice("on_refusal", &UpstreamSetting::on_refusal, kRefusalPolicies,
                     "dead-letter",
                     "A message the hub refuses for good: move it to deadletter/QUEUE, or hold its "
                     "queue until fixed."),
          },
      .default_elements =
          {{{"name", "hub"}, {"kind", "emulator"}, {"host", "127.0.0.1"}, {"port", "5671"}}},
      .complete =
          [](UpstreamSetting& u) {
            if (u.port == 0) u.port = upstream_port(u.kind);
          },
      .check = check_upstream,
  };

  s.admin = {
      .name = "admin",
      .doc =
          "The admin HTTP endpoint: metrics and holdfastctl. It has no authentication: keep it "
          "local.",
      .settings =
          {
              text("bind", &AdminSetting::bind, "127.0.0.1",
                   "Local address, an IPv4 or IPv6 literal.")
                  .validated(ip_address),
              integer("port", &AdminSetting::port, "8088",
                      "Local TCP port; 0 disables the endpoint.")
                  .bounds(0, 65535),
          },
  };

  s.log = {
      .name = "log",
      .doc = "Logging.",
      .settings =
          {
              choice("level", &LogSetting::level, kLogLevels, "info",
                     "Least severe level written."),
              path("file", &LogSetting::file, "",
                   "File the log is appended to; empty = stderr (the journal under systemd)."),
              duration("repeat_interval", &LogSetting::repeat_interval, "10s",
                       "Identical messages within this interval are counted, not repeated; \"0s\" "
                       "repeats them.")
                  .bounds(0, kHour),
          },
  };
  return s;
}

}  // namespace

const Schema& schema() {
  static const Schema kSchema = build();
  return kSchema;
}

}  // namespace holdfast::config::schema
