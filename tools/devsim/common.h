#pragma once
// What every holdfast-devsim subcommand shares: the device, token, load and payload options
// (declared once, added to each subcommand), the payloads (an 8-byte big-endian per-device
// sequence number, then random bytes, TEA/XTEA-encrypted with --tea-key), the pacing of
// --rate / --count / --duration, and the JSON lines on stdout:
//   {"device", "seq", "message_id", "sha256"}           one per message sent (sha256 of the
//                                                        payload bytes as sent)
//   {"device", "c2d_topic", "payload_base64", ...}      one per cloud-to-device message
//   {"device", "subscribed"}                             a device's C2D subscription is in place
//   {"sent", "acknowledged", "refused", "elapsed_s", "rate", ...}   the summary, always last
//
// Exit statuses (every subcommand): 0 every message sent was acknowledged; 1 bad usage (a
// missing key, a bad --tea-key); 2 the gateway could not be reached or a connection failed
// (a CoAP request got no answer); 3 the gateway refused the device's credentials (AMQP
// put-token, MQTT CONNACK); 4 messages were refused or never acknowledged.
//
// Concurrency: Output may be used from any thread (one mutex); the rest from one thread.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "broker/core/status.h"
#include "tools/tea/tea.h"

namespace holdfast::devsim {

enum ExitStatus : int {
  kExitOk = 0,
  kExitUsage = 1,
  kExitUnreachable = 2,
  kExitCredentialsRefused = 3,
  kExitMessagesRefused = 4,
};

struct CommonOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;               // 0: the protocol's default
  std::string hub_host;                 // IoT Hub host name: addresses and token audience
  std::vector<std::string> device_ids;  // --device, repeatable
  std::size_t devices = 0;              // --devices N: PREFIX0 .. PREFIX{N-1}
  std::string prefix = "devsim-";
  std::string key;                     // --key: one device key for every device
  std::string keys_file;               // --keys-file: each device's key from a device-keys file
  std::string token;                   // --token: a SAS token to present as is (one device)
  std::optional<std::uint64_t> count;  // messages per device
  double duration_s = 0;               // 0: no limit
  double rate = 0;                 // messages/s per device; 0: as fast as acks (and windows) allow
  std::size_t payload_bytes = 64;  // random bytes after the sequence number
  std::uint32_t seed = 1;
  std::string tea_key;
  bool tea_classic = false;
  int timeout_ms = 30'000;
};

// Which options a subcommand takes beyond the payload ones (count, payload size, seed, TEA).
struct OptionSet {
  bool many_devices = false;  // --devices/--prefix and a repeatable --device
  bool pacing = false;        // --rate, --duration
  bool tokens = true;         // --hub-host, --key, --keys-file, --token
};

void add_common_options(CLI::App* command, CommonOptions& o, OptionSet set);

// One device as the run sees it: its id and the SAS token it presents (empty for CoAP).
struct DeviceIdentity {
  std::string id;
  std::string token;
};

// After parsing: the device ids, each with a token minted for an hour (from --key or
// --keys-file) or --token; the TEA parameters. Errors (kInvalidArgument) are usage errors.
struct Prepared {
  std::vector<DeviceIdentity> devices;
  std::optional<tea::Params> tea;
  std::uint64_t count = 0;  // per device; UINT64_MAX with --duration and no --count
};
core::Result<Prepared> prepare(const CommonOptions& o, bool need_tokens);

// The payloads of one device: seq 0, 1, ... each 8 bytes big-endian then `payload_bytes`
// random bytes from a generator seeded by (seed, device index), encrypted when tea is set.
class PayloadSource {
 public:
  PayloadSource(const CommonOptions& o, const std::optional<tea::Params>& tea,
                std::size_t device_index);
  std::string next(std::uint64_t seq);

 private:
  std::size_t payload_bytes_;
  std::optional<tea::Params> tea_;
  std::mt19937 rng_;
};

// The sequence number heading a payload PayloadSource made, decrypted first when tea is set;
// nullopt when it is shorter than 8 bytes (or, encrypted, not whole 8-byte blocks).
std::optional<std::uint64_t> payload_seq(std::string_view payload,
                                         const std::optional<tea::Params>& tea);

// `address` with every "{id}" replaced by `device` (the plain AMQP mode's --address).
std::string expand_address(std::string_view address, std::string_view device);

// When message `seq` of a device may go: start + seq / rate (at once when rate is 0).
std::chrono::steady_clock::time_point due_time(std::chrono::steady_clock::time_point start,
                                               double rate, std::uint64_t seq);

struct Totals {
  std::uint64_t sent = 0;
  std::uint64_t acknowledged = 0;
  std::uint64_t refused = 0;
};

// JSON lines on stdout, whole lines under one mutex.
class Output {
 public:
  void sent(const std::string& device, std::uint64_t seq, const std::string& message_id,
            const std::string& payload);
  void line(const nlohmann::json& j);
  // The summary line: totals, elapsed seconds since `start`, acknowledged messages per second,
  // and `extra`'s members.
  void summary(const Totals& t, std::chrono::steady_clock::time_point start,
               nlohmann::json extra = nlohmann::json::object());

 private:
  std::mutex mu_;
};

// The message id of a device's message `seq`: "{device}-{seq}".
std::string message_id(const std::string& device, std::uint64_t seq);

// SIGINT and SIGTERM set a flag instead of ending the process (a run then stops sending, and
// prints its summary). Install before any thread starts.
void install_stop_signals();
bool stop_requested();

}  // namespace holdfast::devsim
