// holdfast-hubsim: an Azure IoT Hub emulator for gateways and their tests. No Azure account
// needed: it speaks IoT Hub's device dialogue over TLS, AMQP (5671) and MQTT (8883), checks SAS
// tokens against a device file, records every message it accepts as a JSON line, and injects
// faults on request.
//
//   holdfast-hubsim --devices conf/device-keys.example --hub-host myhub.azure-devices.net
//       --tls-dir /tmp/hubsim-tls --record /tmp/hub.jsonl --control-port 8090
//
// Control endpoint (HTTP on 127.0.0.1): GET /status; POST /faults with a JSON object of the
// faults to change: {"outage": true} refuses connections, {"throttle_per_s": 10},
// {"quota_exhausted": true}, {"unauthorized_devices": ["dev2"]}, {"drop_after": 100},
// {"ack_delay_ms": 500}. Each key left out keeps its value. POST /c2d with {"device": "dev1",
// "payload_base64": "...", "message_id": "...", "properties": {...}} queues a cloud-to-device
// message (at most 50 per device), delivered to the device's devicebound receiver.
#include <httplib.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "broker/core/log.h"
#include "broker/iothub/base64.h"
#include "broker/iothub/device_keys.h"
#include "tools/hubsim/hub.h"
#include "tools/hubsim/tls_files.h"

namespace {

nlohmann::json faults_json(const holdfast::hubsim::Faults& f) {
  return {{"outage", f.outage},
          {"throttle_per_s", f.throttle_per_s},
          {"quota_exhausted", f.quota_exhausted},
          {"unauthorized_devices", f.unauthorized_devices},
          {"drop_after", f.drop_after},
          {"ack_delay_ms", f.ack_delay_ms}};
}

// Applies the keys present in `j`; throws nlohmann::json::exception on a wrong type.
void merge_faults(holdfast::hubsim::Faults& f, const nlohmann::json& j) {
  if (j.contains("outage")) f.outage = j.at("outage").get<bool>();
  if (j.contains("throttle_per_s")) f.throttle_per_s = j.at("throttle_per_s").get<std::uint32_t>();
  if (j.contains("quota_exhausted")) f.quota_exhausted = j.at("quota_exhausted").get<bool>();
  if (j.contains("unauthorized_devices")) {
    f.unauthorized_devices = j.at("unauthorized_devices").get<std::vector<std::string>>();
  }
  if (j.contains("drop_after")) f.drop_after = j.at("drop_after").get<std::uint64_t>();
  if (j.contains("ack_delay_ms")) f.ack_delay_ms = j.at("ack_delay_ms").get<std::uint32_t>();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "holdfast-hubsim: an Azure IoT Hub emulator (AMQP device dialogue over TLS, SAS checks, "
      "a JSON record of every accepted message, fault injection)"};
  holdfast::hubsim::HubOptions o;
  std::string devices_file, tls_dir, record_file;
  std::uint16_t control_port = 0;
  bool plain = false;
  app.add_option("--bind", o.bind, "Address to listen on")->capture_default_str();
  app.add_option("--amqp-port", o.amqp_port, "AMQP port (0: any free port)")->capture_default_str();
  app.add_option("--mqtt-port", o.mqtt_port, "MQTT port (0: any free port)")->capture_default_str();
  bool no_mqtt = false;
  app.add_flag("--no-mqtt", no_mqtt, "Serve AMQP only");
  app.add_option("--hub-host", o.hub_host, "The hub's host name, as tokens name it")->required();
  app.add_option("--devices", devices_file,
                 "Device registry: the device-keys file format (conf/device-keys.example)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("--tls-dir", tls_dir,
                 "Directory with ca.pem, server.pem, server.key; generated when missing")
      ->required();
  app.add_flag("--plain", plain, "Plain TCP instead of TLS (for debugging only)");
  app.add_option("--record", record_file, "Append the JSON lines here instead of stdout");
  app.add_option("--control-port", control_port,
                 "HTTP control endpoint port on 127.0.0.1 (0: none)");
  CLI11_PARSE(app, argc, argv);

  auto devices = holdfast::iothub::DeviceKeys::load(devices_file);
  if (!devices) {
    std::cerr << "holdfast-hubsim: " << devices.error().message() << "\n";
    return 1;
  }
  o.devices = std::make_shared<const holdfast::iothub::DeviceKeys>(std::move(*devices));
  auto tls = holdfast::hubsim::ensure_tls_files(tls_dir, {o.hub_host, "localhost", "127.0.0.1"});
  if (!tls) {
    std::cerr << "holdfast-hubsim: " << tls.error().message() << "\n";
    return 1;
  }
  o.tls = !plain;
  o.mqtt = !no_mqtt;
  o.cert_file = tls->cert_file;
  o.key_file = tls->key_file;
  if (!record_file.empty()) {
    o.record = std::fopen(record_file.c_str(), "a");
    if (!o.record) {
      std::cerr << "holdfast-hubsim: cannot open " << record_file << "\n";
      return 1;
    }
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // before any thread starts

  holdfast::hubsim::Hub hub(o);
  if (auto s = hub.start(); !s.ok()) {
    std::cerr << "holdfast-hubsim: " << s.message() << "\n";
    return 1;
  }
  httplib::Server control;
  std::thread control_thread;
  if (control_port != 0) {
    control.Get("/status", [&](const httplib::Request&, httplib::Response& res) {
      nlohmann::json j = {{"amqp_port", hub.amqp_port()},
                          {"mqtt_port", hub.mqtt_port()},
                          {"accepted", hub.stats().accepted.load()},
                          {"refused", hub.stats().refused.load()},
                          {"dropped_connections", hub.stats().dropped_connections.load()},
                          {"connections", hub.connections()},
                          {"c2d",
                           {{"sent", hub.c2d_stats().sent.load()},
                            {"completed", hub.c2d_stats().completed.load()},
                            {"abandoned", hub.c2d_stats().abandoned.load()},
                            {"rejected", hub.c2d_stats().rejected.load()},
                            {"mqtt_delivered", hub.stats().c2d_mqtt.load()}}},
                          {"faults", faults_json(hub.faults())}};
      res.set_content(j.dump() + "\n", "application/json");
    });
    control.Post("/faults", [&](const httplib::Request& req, httplib::Response& res) {
      holdfast::hubsim::Faults f = hub.faults();
      try {
        merge_faults(f, nlohmann::json::parse(req.body));
      } catch (const nlohmann::json::exception& e) {
        res.status = 400;
        res.set_content(nlohmann::json{{"error", e.what()}}.dump() + "\n", "application/json");
        return;
      }
      hub.set_faults(f);
      res.set_content(faults_json(f).dump() + "\n", "application/json");
    });
    control.Post("/c2d", [&](const httplib::Request& req, httplib::Response& res) {
      holdfast::core::Message m;
      std::string device;
      try {
        auto j = nlohmann::json::parse(req.body);
        device = j.at("device").get<std::string>();
        auto payload = holdfast::iothub::base64_decode(j.value("payload_base64", ""));
        if (!payload) throw std::invalid_argument("payload_base64 is not base64");
        m.payload = *payload;
        m.properties.message_id = j.value("message_id", "");
        m.properties.correlation_id = j.value("correlation_id", "");
        m.properties.content_type = j.value("content_type", "");
        nlohmann::json props = j.value("properties", nlohmann::json::object());
        for (const auto& [k, v] : props.items()) {
          m.properties.user.emplace_back(k, v.get<std::string>());
        }
      } catch (const std::exception& e) {
        res.status = 400;
        res.set_content(nlohmann::json{{"error", e.what()}}.dump() + "\n", "application/json");
        return;
      }
      m.address = "devices/" + device + "/messages/devicebound";
      m.received_at_ms = holdfast::core::now_ms();
      auto s = hub.send_c2d(device, std::move(m));
      if (!s.ok()) {
        res.status = s.code() == holdfast::core::Code::kNotFound ? 404 : 409;
        res.set_content(nlohmann::json{{"error", s.message()}}.dump() + "\n", "application/json");
        return;
      }
      res.set_content("{\"queued\": true}\n", "application/json");
    });
    if (!control.bind_to_port("127.0.0.1", control_port)) {
      std::cerr << "holdfast-hubsim: cannot listen on 127.0.0.1:" << control_port << "\n";
      return 1;
    }
    control_thread = std::thread([&] { control.listen_after_bind(); });
  }
  std::string mqtt = o.mqtt ? ", MQTT on " + std::to_string(hub.mqtt_port()) : "";
  holdfast::core::log_info("hubsim", "AMQP" + std::string(plain ? "" : "S") + " on " + o.bind +
                                         ":" + std::to_string(hub.amqp_port()) + mqtt + " for " +
                                         o.hub_host + "; CA file " + tls->ca_file);
  int sig = 0;
  sigwait(&signals, &sig);
  if (control_port != 0) {
    control.stop();
    control_thread.join();
  }
  hub.stop();
  if (o.record != stdout) std::fclose(o.record);
  return 0;
}
