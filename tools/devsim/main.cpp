// holdfast-devsim: simulated devices for trying and testing a gateway.
//
//   holdfast-devsim amqp-iothub --port 5672 --hub-host myhub.azure-devices.net --devices 5
//       --key BASE64 --count 20 --rate 10 --batch 3 [--c2d]
//   holdfast-devsim amqp --devices 5 --address temperature --count 20 --rate 10
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

int main(int argc, char** argv) {
  CLI::App app{"holdfast-devsim: simulated IoT devices for a gateway"};
  app.require_subcommand(1);
  devsim::CommonOptions amqp_o, plain_o, mqtt_o, coap_o;

  devsim::AmqpDeviceOptions amqp_opts;
  auto* amqp = app.add_subcommand(
      "amqp-iothub",
      "Devices in IoT Hub's AMQP dialogue as the Azure C SDK speaks it, all on one connection "
      "and one session (SASL MSSBCBS, a $cbs put-token per device with a ulong message-id, a "
      "sender per device on devices/{id}/messages/events, batched telemetry), over plain TCP");
  devsim::add_common_options(amqp, amqp_o, {.many_devices = true, .pacing = true});
  amqp->add_option("--batch", amqp_opts.batch, "Messages per transfer (IoT Hub batch)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  amqp->add_option("--window", amqp_opts.window, "Unsettled transfers per device")
      ->capture_default_str()
      ->check(CLI::Range(1, 1000));
  amqp->add_flag("--c2d", amqp_opts.c2d,
                 "Attach a receiver per device on devices/{id}/messages/devicebound and print "
                 "each cloud-to-device message; stay connected until --duration is over or "
                 "SIGINT/SIGTERM");

  devsim::AmqpDeviceOptions plain_opts;
  plain_opts.iothub = false;
  auto* plain = app.add_subcommand(
      "amqp",
      "Devices of an on-premise AMQP 1.0 broker, all on one connection and one session: SASL "
      "ANONYMOUS, no $cbs, a sender per device on --address, one message per transfer");
  devsim::add_common_options(plain, plain_o,
                             {.many_devices = true, .pacing = true, .tokens = false});
  plain
      ->add_option("--address", plain_opts.address,
                   "Each device's target address; {id} is replaced by the device id")
      ->capture_default_str();
  plain->add_option("--window", plain_opts.window, "Unsettled transfers per device")
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

  const devsim::CommonOptions& o = amqp->parsed()    ? amqp_o
                                   : plain->parsed() ? plain_o
                                   : mqtt->parsed()  ? mqtt_o
                                                     : coap_o;
  auto prepared = devsim::prepare(o, amqp->parsed() || mqtt->parsed());
  if (!prepared) {
    std::cerr << "holdfast-devsim: " << prepared.error().message() << "\n";
    return devsim::kExitUsage;
  }
  devsim::install_stop_signals();  // before any library starts a thread
  if (amqp->parsed()) return devsim::run_amqp_devices(o, *prepared, amqp_opts, out);
  if (plain->parsed()) return devsim::run_amqp_devices(o, *prepared, plain_opts, out);
  if (mqtt->parsed()) return devsim::run_mqtt_devices(o, *prepared, mqtt_opts, out);
  return devsim::run_coap_devices(o, *prepared, coap_opts, out);
}
