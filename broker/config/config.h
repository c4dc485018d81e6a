#pragma once
// Config: what holdfastd reads from holdfast.toml, and the functions that load, check and print
// it.
//
// Operation
//   Every setting is declared once, in broker/config/schema.cpp, with its key, type, default,
//   bounds and a one-line doc. The loader, `--check-config`, `--print-default-config` and the
//   committed conf/holdfast.toml all come from that table. A key the table does not know is an
//   error. Arrays of tables ([[listener]], [[route]], ...) present in a file replace the
//   default array entirely; `listener = []` removes the default listeners.
//
//   The loader reports every error it finds at once, each as "FILE:LINE:COL: reason". A TOML
//   syntax error stops the parse, so it is reported alone.
//
//   Relative paths (store.path, TLS files, device-key files, log.file) are resolved against the
//   directory of the config file. default_config() keeps them relative, i.e. relative to the
//   working directory of whoever uses it.
//
// Concurrency
//   Plain data and free functions: no shared state, callable from any thread. Loading reads the
//   file and stats the files it names, so it blocks on the filesystem: the daemon calls it on
//   the main thread at start-up.
//
// This module does not depend on storage/, protocols/ or bridge/: the daemon maps these structs
// onto each module's own options (e.g. StoreSettings to storage::StoreOptions).
//
// The structs are zeroed when default-constructed, NOT defaulted: the defaults live in the
// settings table only. Start from default_config() (or copy one of its elements).

#include <chrono>
#include <cstdint>
#include <expected>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "broker/core/message.h"
#include "broker/core/queue_store.h"
#include "broker/core/status.h"

namespace holdfast::config {

// Mirrors storage::SyncMode (which this module cannot include).
enum class SyncMode : std::uint8_t {
  kFsync,  // "fsync": an acknowledged message is on stable storage; survives power loss
  kOs,     // "os": handed to the OS page cache; survives a crash of holdfastd, not of the box
};

enum class UpstreamKind : std::uint8_t {
  kIotHubAmqp,  // "iothub-amqp": Azure IoT Hub over AMQP 1.0 + CBS (port 5671)
  kIotHubMqtt,  // "iothub-mqtt": Azure IoT Hub over MQTT 3.1.1 (port 8883)
  kEmulator,    // "emulator": holdfast-hubsim, the IoT Hub emulator (AMQP, port 5671)
};

enum class UpstreamAuth : std::uint8_t {
  kDeviceKeys,        // "device-keys": the gateway holds device (or policy) keys, mints tokens
  kTokenPassthrough,  // "token-passthrough": devices' own SAS tokens (from $cbs) are reused
  kGateway,           // "gateway": one identity (connection_string) sends for every device
};

// What the bridge does with a message the hub refuses for good (oversize, unauthorized, ...).
enum class RefusalPolicy : std::uint8_t {
  kDeadLetter,  // "dead-letter": move it to deadletter/{queue}; the device's other messages go on
  kHold,        // "hold": keep it at the head of its queue, retrying with backoff, until fixed
};

enum class LogLevel : std::uint8_t { kTrace, kDebug, kInfo, kWarn, kError };

// [store]: the RocksDB queue store; maps one to one onto storage::StoreOptions.
struct StoreSettings {
  std::string path;  // resolved against the config file's directory when loaded from a file
  SyncMode sync = SyncMode::kFsync;
  std::uint64_t quota_bytes = 0;  // 0 = unlimited
  core::OverflowPolicy quota_policy = core::OverflowPolicy::kReject;
  std::uint64_t min_free_disk_bytes = 0;
  std::uint64_t block_cache_bytes = 0;
  std::uint64_t write_buffer_bytes = 0;
  std::uint64_t max_batch_messages = 0;
  std::uint64_t max_batch_bytes = 0;
  std::chrono::milliseconds retention_interval{0};

  friend bool operator==(const StoreSettings&, const StoreSettings&) = default;
};

// [[queue_policy]]: retention of the queues whose name matches `pattern`. The first matching
// policy wins, in file order; queues no pattern matches keep messages forever under the store
// quota only (write a last policy with pattern "#" to change that).
struct QueuePolicySetting {
  std::string pattern;               // MQTT topic filter over queue names
  std::chrono::milliseconds ttl{0};  // 0 = forever
  std::uint64_t max_bytes = 0;       // 0 = only the store quota applies
  core::OverflowPolicy overflow = core::OverflowPolicy::kReject;
  std::string dead_letter_queue;  // empty: dropped messages go nowhere

  // The storage-level policy, e.g. for storage::StoreOptions::policies.
  core::QueuePolicy policy() const {
    return {.ttl_ms = ttl.count(),
            .max_bytes = max_bytes,
            .overflow = overflow,
            .dead_letter_queue = dead_letter_queue};
  }

  friend bool operator==(const QueuePolicySetting&, const QueuePolicySetting&) = default;
};

// [[listener]]: one socket devices connect to (TCP for MQTT and AMQP, UDP for CoAP).
struct ListenerSetting {
  core::Protocol protocol = core::Protocol::kUnknown;  // kMqtt, kAmqp or kCoap
  std::string bind;                                    // an IPv4 or IPv6 address literal
  std::uint16_t port = 0;                              // 1..65535 once loaded
  std::uint32_t max_connections = 0;
  std::uint64_t max_packet_bytes = 0;
  bool tls = false;
  std::string cert_file;  // when tls: PEM certificate chain; exists (checked at load)
  std::string key_file;   // when tls: PEM private key; exists
  std::string ca_file;    // optional: CA to verify client certificates; exists when set
  // AMQP: links to devices/{id}/... need a valid SAS token for that id ($cbs or SASL PLAIN).
  bool require_device_auth = false;
  // MQTT limits per client.
  std::uint32_t max_subscriptions = 100;
  std::uint32_t max_topic_bytes = 1024;
  std::uint32_t receive_maximum = 256;
  std::uint32_t max_inflight = 64;
  std::uint32_t max_queued_messages = 1000;
  // AMQP: announced idle time-out; also the time allowed to finish SASL and OPEN.
  std::chrono::milliseconds idle_timeout{240'000};
  // CoAP with tls (DTLS): file of "identity key-hex" lines; the identity is the device id.
  std::string psk_file;
  // CoAP: requests per second accepted from one source IP address; 0 = unlimited.
  std::uint32_t rate_limit = 0;

  friend bool operator==(const ListenerSetting&, const ListenerSetting&) = default;
};

// [[route]]: messages whose address matches `pattern` are stored in the queue named by
// `queue`, a template: "{1}", "{2}" are the levels matched by the first and second '+' of
// the pattern, "{device}" the IoT Hub device id (of the address, else of the sender).
// Validated at load with check_queue_template() (queue_template.h). A message is stored once
// in each distinct queue its matching routes name.
struct RouteSetting {
  std::string pattern;   // MQTT topic filter over addresses
  std::string queue;     // queue-name template
  std::string upstream;  // name of an [[upstream]] that drains the queue; empty: none

  friend bool operator==(const RouteSetting&, const RouteSetting&) = default;
};

// [[upstream]]: a cloud endpoint the bridge drains queues to.
struct UpstreamSetting {
  std::string name;  // unique among upstreams
  UpstreamKind kind = UpstreamKind::kIotHubAmqp;
  std::string host;
  std::uint16_t port = 0;  // 1..65535 once loaded (defaults by kind)
  std::string ca_file;     // empty: the system's trust store
  UpstreamAuth auth = UpstreamAuth::kDeviceKeys;
  std::string device_keys_file;   // required (and exists) when auth is kDeviceKeys
  std::string connection_string;  // SECRET; required when auth is kGateway. Never log it.
  std::uint32_t window = 0;       // unacknowledged messages in flight
  std::uint32_t batch = 0;        // most messages per IoT Hub batch transfer (AMQP)
  std::uint32_t live_share = 0;   // percent of the window reserved for fresh messages
  std::chrono::milliseconds backlog_age{10'000};  // oldest unsent message this old: a backlog
  RefusalPolicy on_refusal = RefusalPolicy::kDeadLetter;

  friend bool operator==(const UpstreamSetting&, const UpstreamSetting&) = default;
};

// [admin]: the admin HTTP endpoint (metrics, holdfastctl).
struct AdminSetting {
  std::string bind;
  std::uint16_t port = 0;  // 0 disables the endpoint

  friend bool operator==(const AdminSetting&, const AdminSetting&) = default;
};

// [log]
struct LogSetting {
  LogLevel level = LogLevel::kTrace;
  std::string file;                              // empty: stderr
  std::chrono::milliseconds repeat_interval{0};  // 0: never fold repeated messages

  friend bool operator==(const LogSetting&, const LogSetting&) = default;
};

struct Config {
  StoreSettings store;
  std::vector<QueuePolicySetting> queue_policies;
  std::vector<ListenerSetting> listeners;
  std::vector<RouteSetting> routes;
  std::vector<UpstreamSetting> upstreams;
  AdminSetting admin;
  LogSetting log;
  std::string source;  // the file it was loaded from, as given; empty for default_config()

  friend bool operator==(const Config&, const Config&) = default;
};

// One problem found in a config file.
struct ConfigError {
  std::string file;
  int line = 0;    // 1-based; 0 when not tied to a line (e.g. a default the file broke)
  int column = 0;  // 1-based; 0 when unknown
  std::string reason;

  // "FILE:LINE:COL: reason", or "FILE: reason" when line is 0.
  std::string to_string() const;

  friend bool operator==(const ConfigError&, const ConfigError&) = default;
};

// Either a valid Config or every error found, sorted by line then column (line 0 last).
using ConfigResult = std::expected<Config, std::vector<ConfigError>>;

// The configuration an empty or absent file means: one MQTT (1883), AMQP (5672) and CoAP
// (5683) listener on 0.0.0.0, the two IoT Hub device routes to queue "iothub/{1}" drained by
// upstream "hub" (the emulator on 127.0.0.1:5671), admin on 127.0.0.1:8088, log level info.
// Paths stay relative. Any thread; never blocks.
Config default_config();

// Parses and validates `text` as if read from `path` (used in messages and to resolve
// relative paths; may be relative or empty). Returns every error found. Any thread; blocks only
// to stat the files the config names (TLS certificates, device-key files).
ConfigResult parse_config(std::string_view text, std::string_view path);

// parse_config() with the errors folded into one Status (kInvalidArgument) whose message holds
// every error, one per line, "FILE:LINE:COL: reason". Same threading as parse_config().
core::Result<Config> load_config_string(std::string_view text, std::string_view path);

// Reads and parses the file at `path`; relative paths in it resolve against its directory made
// absolute. Errors: kNotFound (no such file), kIoError (unreadable), kInvalidArgument (the
// content, as load_config_string()). Blocks on the filesystem: call it from the main thread.
core::Result<Config> load_config_file(const std::string& path);

// The errors as one message, one "FILE:LINE:COL: reason" per line (no trailing newline).
std::string format_errors(const std::vector<ConfigError>& errors);

// `holdfastd --check-config FILE`: loads FILE, prints "FILE: OK (...summary...)" to `out` or
// every error to `err`, and returns the process exit code (0 valid, 1 not). Blocks on the
// filesystem; main thread.
int check_config_command(const std::string& path, std::ostream& out, std::ostream& err);

// `holdfastd --print-default-config`: default_config() as a TOML document in which every
// setting is preceded by its doc, type, bounds and default; loads back to default_config().
// conf/holdfast.toml is exactly this text (a unit test checks it). Any thread; never blocks.
std::string print_default_config();

// `config` as a documented TOML document, like print_default_config(), for the daemon to log
// the effective configuration. Secrets are redacted: in a connection string HostName, DeviceId
// and the like stay readable and key values become "<redacted>". Any thread; never blocks.
std::string print_config(const Config& config);

// A reference of every setting, one block per section ("key  type  default  bounds  doc"),
// for --help and the README. Any thread; never blocks.
std::string describe_settings();

// Stable names as written in the file, e.g. "drop-oldest", "iothub-amqp", "warn".
std::string_view sync_mode_name(SyncMode mode);
std::string_view overflow_policy_name(core::OverflowPolicy policy);
std::string_view upstream_kind_name(UpstreamKind kind);
std::string_view upstream_auth_name(UpstreamAuth auth);
std::string_view refusal_policy_name(RefusalPolicy policy);
std::string_view log_level_name(LogLevel level);

}  // namespace holdfast::config
