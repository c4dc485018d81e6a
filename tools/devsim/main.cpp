// holdfast-devsim: simulated devices for trying and testing a gateway.
//
//   holdfast-devsim amqp-iothub --port 5672 --hub-host myhub.azure-devices.net --device dev1
//       --key BASE64 --count 10 --batch 3
//   holdfast-devsim mqtt-iothub --hub-host myhub.azure-devices.net --devices 100 --key BASE64
//       --rate 2 --duration 60 [--tls --ca-file ca.pem] [--c2d]
//   holdfast-devsim coap --devices 20 --rate 5 --count 100 [--non]
//   holdfast-devsim verify --record data/hubsim/record.jsonl sent.jsonl...
//
// Every payload is the device's sequence number (8 bytes, big-endian) and random bytes,
// TEA/XTEA-encrypted with --tea-key. Output: one JSON line per message sent, per C2D message
// received, and a summary line last; exit statuses in common.h (0 all acknowledged, 1 usage,
// 2 unreachable or connection failed, 3 credentials refused, 4 messages refused).
// This file only parses the command line and dispatches: one file per protocol's devices.
#include <CLI/CLI.hpp>

#include <iostream>

#include "tools/devsim/amqp_device.h"
#include "tools/devsim/coap_device.h"
#include "tools/devsim/common.h"
#include "tools/devsim/mqtt_device.h"
#include "tools/devsim/verify.h"

namespace devsim = holdfast::devsim;

namespace {

int run_amqp(const devsim::CommonOptions& o, devsim::AmqpDeviceOptions a, const devsim::Prepared& p,
             devsim::Output& out) {
  auto start = std::chrono::steady_clock::now();
  const auto& device = p.devices.front();
  a.host = o.host;
  a.port = o.port ? o.port : 5672;
  a.hub_host = o.hub_host;
  a.device_id = device.id;
  a.sas_token = device.token;
  a.timeout_ms = o.timeout_ms;
  devsim::PayloadSource payloads(o, p.tea, 0);
  std::vector<devsim::DeviceMessage> messages;
  for (std::uint64_t seq = 0; seq < p.count; ++seq) {
    devsim::DeviceMessage m;
    m.message_id = devsim::message_id(device.id, seq);
    m.content_type = "application/octet-stream";
    m.properties = {{"seq", std::to_string(seq)}};
    m.payload = payloads.next(seq);
    out.sent(device.id, seq, m.message_id, m.payload);
    messages.push_back(std::move(m));
  }
  auto result = devsim::run_amqp_device(a, messages);
  if (!result) {
    out.summary({}, start, {{"error", result.error().message()}});
    std::cerr << "holdfast-devsim: " << result.error().message() << "\n";
    return devsim::kExitUnreachable;
  }
  bool token_ok = result->cbs_status == 200 || result->cbs_status == 202;
  devsim::Totals t{token_ok ? messages.size() : 0, result->accepted, result->refused};
  out.summary(t, start,
              {{"cbs_status", result->cbs_status},
               {"cbs_description", result->cbs_description},
               {"accepted", result->accepted},
               {"refusal", result->refusal}});
  if (!token_ok) return devsim::kExitCredentialsRefused;
  return result->refused > 0 || result->accepted != messages.size() ? devsim::kExitMessagesRefused
                                                                    : devsim::kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"holdfast-devsim: simulated IoT devices for a gateway"};
  app.require_subcommand(1);
  devsim::CommonOptions amqp_o, mqtt_o, coap_o;

  devsim::AmqpDeviceOptions amqp_opts;
  auto* amqp = app.add_subcommand(
      "amqp-iothub",
      "One device in IoT Hub's AMQP dialogue as the Azure C SDK speaks it (SASL MSSBCBS, $cbs "
      "put-token with a ulong message-id, batched telemetry), over plain TCP");
  devsim::add_common_options(amqp, amqp_o, {.many_devices = false, .pacing = false});
  amqp->add_option("--batch", amqp_opts.batch, "Messages per transfer (IoT Hub batch)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));

  devsim::MqttDeviceOptions mqtt_opts;
  auto* mqtt = app.add_subcommand(
      "mqtt-iothub",
      "Devices in IoT Hub's MQTT conventions (Paho MQTTAsync): SAS token login, QoS 1 "
      "telemetry to devices/{id}/messages/events/{property bag}, optional TLS and C2D");
  devsim::add_common_options(mqtt, mqtt_o, {.many_devices = true, .pacing = true});
  mqtt->add_flag("--tls", mqtt_opts.tls, "MQTT over TLS (port 8883 unless --port)");
  mqtt->add_option("--ca-file", mqtt_opts.ca_file, "TLS: CA bundle verifying the gateway");
  mqtt->add_flag("--c2d", mqtt_opts.c2d,
                 "Subscribe devices/{id}/messages/devicebound/# and print each cloud-to-device "
                 "message; stay connected until --duration is over or SIGINT/SIGTERM");
  mqtt->add_option("--window", mqtt_opts.window, "Unacknowledged publishes per device")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));

  devsim::CoapDeviceOptions coap_opts;
  auto* coap = app.add_subcommand(
      "coap", "Devices POSTing to devices/{id}/messages/events over CoAP (libcoap), CON or NON");
  devsim::add_common_options(coap, coap_o, {.many_devices = true, .pacing = true, .tokens = false});
  coap->add_flag("--non", coap_opts.non_confirmable, "Non-confirmable requests");

  std::string record_file;
  std::vector<std::string> sent_files;
  auto* verify = app.add_subcommand(
      "verify",
      "Check an IoT Hub emulator's record (holdfast-hubsim --record) against devsim's output: "
      "every message sent there exactly once, per device in order");
  verify->add_option("--record", record_file, "The emulator's record (JSON lines)")->required();
  verify->add_option("sent", sent_files, "devsim's output of one or more runs, in order")
      ->required();
  CLI11_PARSE(app, argc, argv);

  devsim::Output out;
  if (verify->parsed()) return devsim::verify_record(record_file, sent_files, out);

  const devsim::CommonOptions& o = amqp->parsed() ? amqp_o : mqtt->parsed() ? mqtt_o : coap_o;
  auto prepared = devsim::prepare(o, !coap->parsed());
  if (!prepared) {
    std::cerr << "holdfast-devsim: " << prepared.error().message() << "\n";
    return devsim::kExitUsage;
  }
  devsim::install_stop_signals();  // before any library starts a thread
  if (amqp->parsed()) return run_amqp(o, amqp_opts, *prepared, out);
  if (mqtt->parsed()) return devsim::run_mqtt_devices(o, *prepared, mqtt_opts, out);
  return devsim::run_coap_devices(o, *prepared, coap_opts, out);
}
