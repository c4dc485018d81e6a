// holdfast-devsim: simulated devices for trying and testing a gateway.
//
//   holdfast-devsim amqp-iothub --port 5672 --hub-host myhub.azure-devices.net --device dev1 \
//       --key BASE64 --count 10 --batch 3
//
// Prints one JSON line per message sent (device, message_id, seq, sha256 of the payload) and a
// final summary line; exit status 0 when every message was accepted, 2 when the gateway could
// not be reached or the connection failed, 3 when the put-token was refused, 4 when messages
// were refused. More protocols (MQTT, CoAP), rates and TEA payloads come with issue 7.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>
#include <random>

#include <nlohmann/json.hpp>

#include "broker/iothub/sas.h"
#include "broker/iothub/sha256.h"
#include "tools/devsim/amqp_device.h"
#include "tools/tea/tea.h"

int main(int argc, char** argv) {
  CLI::App app{"holdfast-devsim: simulated IoT devices for a gateway"};
  app.require_subcommand(1);
  holdfast::devsim::AmqpDeviceOptions o;
  std::string key;
  std::size_t count = 10;
  std::size_t payload_bytes = 64;
  std::uint32_t seed = 1;
  auto* amqp = app.add_subcommand(
      "amqp-iothub",
      "One device in IoT Hub's AMQP dialogue as the Azure C SDK speaks it (SASL MSSBCBS, $cbs "
      "put-token with a ulong message-id, batched telemetry), over plain TCP");
  amqp->add_option("--host", o.host, "Gateway address")->capture_default_str();
  amqp->add_option("--port", o.port, "Gateway AMQP port")->capture_default_str();
  amqp->add_option("--hub-host", o.hub_host, "IoT Hub host name (addresses, token audience)")
      ->required();
  amqp->add_option("--device", o.device_id, "Device id")->required();
  auto* key_opt = amqp->add_option("--key", key, "Device key (base64): mint a 1-hour SAS token");
  amqp->add_option("--token", o.sas_token, "SAS token to present instead of minting one")
      ->excludes(key_opt);
  amqp->add_option("--count", count, "Messages to send")->capture_default_str();
  amqp->add_option("--batch", o.batch, "Messages per transfer (IoT Hub batch)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  amqp->add_option("--payload-bytes", payload_bytes, "Random bytes after the sequence number")
      ->capture_default_str();
  amqp->add_option("--seed", seed, "Random seed of the payloads")->capture_default_str();
  amqp->add_option("--timeout-ms", o.timeout_ms, "Give up after this long")->capture_default_str();
  std::string tea_key;
  bool tea_classic = false;
  amqp->add_option("--tea-key", tea_key,
                   "Encrypt each payload with this XTEA key (32 hex digits; ECB, big-endian "
                   "words, zero padding), as devices that cannot do TLS do")
      ->type_name("HEX");
  amqp->add_flag("--tea-classic", tea_classic, "TEA instead of XTEA");
  CLI11_PARSE(app, argc, argv);

  if (o.sas_token.empty()) {
    if (key.empty()) {
      std::cerr << "holdfast-devsim: give --key (to mint a token) or --token\n";
      return 1;
    }
    auto expiry = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count() +
                  3600;
    auto token = holdfast::iothub::mint_sas_token(
        holdfast::iothub::sas_resource_uri(o.hub_host, o.device_id), key, expiry);
    if (!token) {
      std::cerr << "holdfast-devsim: " << token.error().message() << "\n";
      return 1;
    }
    o.sas_token = *token;
  }

  std::optional<holdfast::tea::Params> tea;
  if (!tea_key.empty()) {
    holdfast::tea::Params p;
    if (!holdfast::tea::parse_key(tea_key, p.key)) {
      std::cerr << "holdfast-devsim: --tea-key needs 32 hex digits\n";
      return 1;
    }
    p.variant = tea_classic ? holdfast::tea::Variant::kTea : holdfast::tea::Variant::kXtea;
    tea = p;
  }
  std::mt19937 rng(seed);
  std::vector<holdfast::devsim::DeviceMessage> messages;
  for (std::size_t i = 0; i < count; ++i) {
    holdfast::devsim::DeviceMessage m;
    m.message_id = o.device_id + "-" + std::to_string(i);
    m.content_type = "application/octet-stream";
    m.properties = {{"seq", std::to_string(i)}};
    m.payload = {static_cast<char>(i >> 24), static_cast<char>(i >> 16), static_cast<char>(i >> 8),
                 static_cast<char>(i), '\0'};
    for (std::size_t b = 0; b < payload_bytes; ++b) m.payload += static_cast<char>(rng());
    if (tea) m.payload = holdfast::tea::encrypt(m.payload, *tea);
    nlohmann::json line = {{"device", o.device_id},
                           {"message_id", m.message_id},
                           {"seq", i},
                           {"sha256", holdfast::iothub::sha256_hex(m.payload)}};
    std::cout << line.dump() << "\n";
    messages.push_back(std::move(m));
  }
  auto result = holdfast::devsim::run_amqp_device(o, messages);
  if (!result) {
    std::cout << nlohmann::json{{"error", result.error().message()}}.dump() << std::endl;
    std::cerr << "holdfast-devsim: " << result.error().message() << "\n";
    return 2;
  }
  std::cout << nlohmann::json{{"cbs_status", result->cbs_status},
                              {"cbs_description", result->cbs_description},
                              {"accepted", result->accepted},
                              {"refused", result->refused},
                              {"refusal", result->refusal}}
                   .dump()
            << std::endl;
  if (result->cbs_status != 200 && result->cbs_status != 202) return 3;
  return result->refused > 0 || result->accepted != count ? 4 : 0;
}
