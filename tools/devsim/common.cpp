#include "tools/devsim/common.h"

#include <cmath>
#include <csignal>
#include <iostream>
#include <limits>

#include "broker/iothub/device_keys.h"
#include "broker/iothub/sas.h"
#include "broker/iothub/sha256.h"

namespace holdfast::devsim {

using Clock = std::chrono::steady_clock;

void add_common_options(CLI::App* c, CommonOptions& o, OptionSet set) {
  c->add_option("--host", o.host, "Gateway address")->capture_default_str();
  c->add_option("--port", o.port, "Gateway port (default: the protocol's)");
  if (set.many_devices) {
    c->add_option("--device", o.device_ids, "Device id (repeatable)");
    c->add_option("--devices", o.devices, "Simulate N devices, PREFIX0 .. PREFIX{N-1}")
        ->excludes("--device");
    c->add_option("--prefix", o.prefix, "Device id prefix of --devices")->capture_default_str();
  } else {
    c->add_option("--device", o.device_ids, "Device id")->required()->expected(1);
  }
  if (set.tokens) {
    c->add_option("--hub-host", o.hub_host, "IoT Hub host name (addresses, token audience)")
        ->required();
    auto* key = c->add_option("--key", o.key, "Device key (base64): mint 1-hour SAS tokens");
    auto* file = c->add_option("--keys-file", o.keys_file,
                               "Device-keys file (conf/device-keys.example): each device's key")
                     ->excludes(key);
    c->add_option("--token", o.token, "SAS token to present instead of minting one")
        ->excludes(key)
        ->excludes(file);
  }
  c->add_option("--count,--messages", o.count,
                "Messages per device (default 10, unlimited with --duration)");
  if (set.pacing) {
    c->add_option("--duration", o.duration_s,
                  "Each device sends for this many seconds from its connection (MQTT), its "
                  "sender's attach (AMQP) or the start (CoAP)");
    c->add_option("--rate", o.rate, "Messages per second per device; 0: as fast as acks allow")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
  }
  c->add_option("--payload-bytes", o.payload_bytes, "Random bytes after the sequence number")
      ->capture_default_str();
  c->add_option("--seed", o.seed, "Random seed of the payloads")->capture_default_str();
  c->add_option("--timeout-ms", o.timeout_ms,
                "Give up when the gateway has not answered for this long")
      ->capture_default_str();
  c->add_option("--tea-key", o.tea_key,
                "Encrypt each payload with this XTEA key (32 hex digits; ECB, big-endian "
                "words, zero padding), as devices that cannot do TLS do")
      ->type_name("HEX");
  c->add_flag("--tea-classic", o.tea_classic, "TEA instead of XTEA");
}

core::Result<Prepared> prepare(const CommonOptions& o, bool need_tokens) {
  Prepared p;
  std::vector<std::string> ids = o.device_ids;
  for (std::size_t i = 0; i < o.devices; ++i) ids.push_back(o.prefix + std::to_string(i));
  if (ids.empty()) return core::error(core::Code::kInvalidArgument, "give --device or --devices");
  if (need_tokens && !o.token.empty() && ids.size() > 1) {
    return core::error(core::Code::kInvalidArgument, "--token is for one device only");
  }
  std::optional<iothub::DeviceKeys> keys;
  if (need_tokens && !o.keys_file.empty()) {
    auto loaded = iothub::DeviceKeys::load(o.keys_file);
    if (!loaded) return std::unexpected(loaded.error());
    keys = std::move(*loaded);
  }
  if (need_tokens && o.token.empty() && o.key.empty() && !keys) {
    return core::error(core::Code::kInvalidArgument,
                       "give --key or --keys-file (to mint tokens) or --token");
  }
  auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count() +
                3600;
  for (const auto& id : ids) {
    DeviceIdentity d{id, o.token};
    if (need_tokens && d.token.empty()) {
      auto token =
          keys ? keys->mint(o.hub_host, id, {}, expiry)
               : iothub::mint_sas_token(iothub::sas_resource_uri(o.hub_host, id), o.key, expiry);
      if (!token) {
        return core::error(core::Code::kInvalidArgument,
                           "device " + id + ": " + token.error().message());
      }
      d.token = *token;
    }
    p.devices.push_back(std::move(d));
  }
  if (!o.tea_key.empty()) {
    tea::Params t;
    if (!tea::parse_key(o.tea_key, t.key)) {
      return core::error(core::Code::kInvalidArgument, "--tea-key needs 32 hex digits");
    }
    t.variant = o.tea_classic ? tea::Variant::kTea : tea::Variant::kXtea;
    p.tea = t;
  }
  p.count =
      o.count ? *o.count : (o.duration_s > 0 ? std::numeric_limits<std::uint64_t>::max() : 10);
  return p;
}

PayloadSource::PayloadSource(const CommonOptions& o, const std::optional<tea::Params>& tea,
                             std::size_t device_index)
    : payload_bytes_(o.payload_bytes), tea_(tea) {
  std::seed_seq seq{o.seed, static_cast<std::uint32_t>(device_index)};
  rng_.seed(seq);
}

std::string PayloadSource::next(std::uint64_t seq) {
  std::string p(8, '\0');
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(seq >> (56 - 8 * i));
  for (std::size_t b = 0; b < payload_bytes_; ++b) p += static_cast<char>(rng_());
  return tea_ ? tea::encrypt(p, *tea_) : p;
}

std::optional<std::uint64_t> payload_seq(std::string_view payload,
                                         const std::optional<tea::Params>& tea) {
  std::string plain;
  if (tea) {
    if (payload.empty() || payload.size() % 8 != 0) return std::nullopt;
    plain = tea::decrypt(payload, *tea);
    payload = plain;
  }
  if (payload.size() < 8) return std::nullopt;
  std::uint64_t seq = 0;
  for (int i = 0; i < 8; ++i) seq = (seq << 8) | static_cast<unsigned char>(payload[i]);
  return seq;
}

std::string expand_address(std::string_view address, std::string_view device) {
  constexpr std::string_view kId = "{id}";
  std::string out;
  for (std::size_t pos = 0;;) {
    std::size_t found = address.find(kId, pos);
    if (found == std::string_view::npos) {
      out.append(address.substr(pos));
      return out;
    }
    out.append(address.substr(pos, found - pos)).append(device);
    pos = found + kId.size();
  }
}

Clock::time_point due_time(Clock::time_point start, double rate, std::uint64_t seq) {
  if (rate <= 0) return start;
  return start + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(static_cast<double>(seq) / rate));
}

void Output::sent(const std::string& device, std::uint64_t seq, const std::string& message_id,
                  const std::string& payload) {
  line({{"device", device},
        {"seq", seq},
        {"message_id", message_id},
        {"sha256", iothub::sha256_hex(payload)}});
}

void Output::line(const nlohmann::json& j) {
  std::string text = j.dump() + "\n";
  std::lock_guard lock(mu_);
  std::cout << text << std::flush;
}

void Output::summary(const Totals& t, Clock::time_point start, nlohmann::json extra) {
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  nlohmann::json j = {{"sent", t.sent},
                      {"acknowledged", t.acknowledged},
                      {"refused", t.refused},
                      {"elapsed_s", std::round(elapsed * 1000) / 1000},
                      {"rate", elapsed > 0 ? std::round(t.acknowledged / elapsed * 10) / 10 : 0.0}};
  for (auto& [k, v] : extra.items()) j[k] = v;
  line(j);
}

std::string message_id(const std::string& device, std::uint64_t seq) {
  return device + "-" + std::to_string(seq);
}

namespace {
volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}
}  // namespace

void install_stop_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool stop_requested() {
  return g_stop != 0;
}

}  // namespace holdfast::devsim
