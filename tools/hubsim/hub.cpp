#include "tools/hubsim/hub.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <future>
#include <nlohmann/json.hpp>
#include <random>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/iothub/base64.h"
#include "broker/iothub/iso8601.h"
#include "broker/iothub/property_bag.h"
#include "broker/iothub/sha256.h"

namespace holdfast::hubsim {
namespace {

constexpr std::string_view kLog = "hubsim";

// IoT Hub's container id: "DeviceGateway_" and 32 hex digits.
std::string gateway_container_id() {
  std::random_device rd;
  std::string id = "DeviceGateway_";
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) id += kHex[rd() % 16];
  return id;
}

}  // namespace

Hub::Hub(HubOptions options) : options_(std::move(options)) {
  amqp::AmqpOptions o;
  o.bind = options_.bind;
  o.port = options_.amqp_port;
  o.max_message_bytes = 256 * 1024;  // IoT Hub's limit for a message or a batch
  o.require_device_auth = true;
  o.require_known_devices = true;
  o.device_keys = options_.devices;
  o.container_id = gateway_container_id();
  o.tls = options_.tls;
  o.cert_file = options_.cert_file;
  o.key_file = options_.key_file;
  c2d_ = std::make_unique<C2dQueues>(loop_);
  amqp_ = std::make_unique<amqp::AmqpServer>(loop_, *this, *this, c2d_.get(), o);
  if (!options_.mqtt) return;
  mqtt::ServerOptions m;
  m.bind = options_.bind;
  m.port = options_.mqtt_port;
  m.iothub_only = true;
  m.device_keys = options_.devices;
  m.max_packet_bytes = 256 * 1024 + 1024;  // 256 KiB of message and its topic
  m.max_topic_bytes = 1024;
  mqtt_ = std::make_unique<mqtt::MqttServer>(loop_, *this, *this, m);
}

Hub::~Hub() {
  stop();
}

core::Status Hub::start() {
  if (!loop_.status().ok()) return loop_.status();
  if (auto s = amqp_->start(); !s.ok()) return s;
  amqp_port_ = amqp_->port();
  if (mqtt_) {
    if (options_.tls) {
      auto tls = core::TlsContext::server({options_.cert_file, options_.key_file, ""});
      if (!tls) return tls.error();
      mqtt_tls_ = std::move(*tls);
    }
    if (auto s = mqtt_->listen(options_.bind, options_.mqtt_port, mqtt_tls_); !s.ok()) return s;
    mqtt_port_ = mqtt_->port();
  }
  thread_ = std::thread([this] { loop_.run(); });
  return {};
}

void Hub::stop() {
  if (!thread_.joinable()) return;
  loop_.post([this] {
    amqp_->stop_accepting();
    if (mqtt_) mqtt_->stop_accepting();
    close_connections();
    loop_.post([this] {
      amqp_->abort_all();
      loop_.stop();
    });
  });
  thread_.join();
}

Faults Hub::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

void Hub::set_faults(Faults faults) {
  {
    std::lock_guard lock(mu_);
    faults_ = faults;
  }
  // In effect when this returns, so a script that ends an outage can connect right away.
  auto applied = std::make_shared<std::promise<void>>();
  auto future = applied->get_future();
  loop_.post([this, outage = faults.outage, applied] {
    apply_outage(outage);
    applied->set_value();
  });
  future.wait_for(std::chrono::seconds(5));
}

std::size_t Hub::connections() const {
  return amqp_->stats().connections + (mqtt_ ? mqtt_->stats().connections.load() : 0);
}

void Hub::close_connections() {
  amqp_->close_all();
  if (mqtt_) mqtt_->close_all();
}

void Hub::apply_outage(bool outage) {
  if (outage == outage_applied_) return;
  outage_applied_ = outage;
  if (outage) {
    amqp_->stop_accepting();
    if (mqtt_) mqtt_->stop_accepting();
    close_connections();
    core::log_info(kLog, "outage: refusing connections");
  } else {
    core::Status s = amqp_->start();
    if (s.ok() && mqtt_) s = mqtt_->listen(options_.bind, mqtt_port_, mqtt_tls_);
    if (!s.ok()) {
      core::log_error(kLog, "cannot listen again after the outage: " + s.message());
      return;
    }
    core::log_info(kLog, "outage over: accepting connections");
  }
}

core::Status Hub::check(const core::Message& m) {
  Faults f = faults();
  if (f.outage) return {core::Code::kUnavailable, "amqp:connection:forced: outage"};
  if (std::find(f.unauthorized_devices.begin(), f.unauthorized_devices.end(), m.origin.device_id) !=
      f.unauthorized_devices.end()) {
    return {core::Code::kPermissionDenied,
            "amqp:unauthorized-access: device '" + m.origin.device_id + "' is disabled"};
  }
  if (f.quota_exhausted) {
    return {core::Code::kResourceExhausted,
            "amqp:resource-limit-exceeded: the daily message quota is exhausted"};
  }
  if (f.throttle_per_s > 0) {
    std::int64_t now_s = core::now_ms() / 1000;
    if (now_s != window_start_s_) {
      window_start_s_ = now_s;
      window_count_ = 0;
    }
    if (++window_count_ > f.throttle_per_s) {
      return {core::Code::kResourceExhausted,
              "com.microsoft:device-container-throttled: more than " +
                  std::to_string(f.throttle_per_s) + " messages per second"};
    }
  }
  return {};
}

void Hub::submit(core::Message message, core::PublishOptions, core::Callback<void> done) {
  if (message.origin.device_id.empty()) {
    ++stats_.refused;
    done(core::error(core::Code::kNotFound, "amqp:not-found: only device telemetry is taken"));
    return;
  }
  if (core::Status s = check(message); !s.ok()) {
    ++stats_.refused;
    done(core::error(s));
    return;
  }
  record(message);
  ++stats_.accepted;
  std::uint64_t drop_after = 0;
  std::uint32_t delay = 0;
  {
    std::lock_guard lock(mu_);
    delay = faults_.ack_delay_ms;
    if (faults_.drop_after > 0 && --faults_.drop_after == 0) drop_after = 1;
  }
  if (delay > 0) {
    loop_.add_timer(std::chrono::milliseconds(delay),
                    [done = std::move(done)]() mutable { done({}); });
  } else {
    done({});
  }
  if (drop_after) {
    // After this settlement is written: a connection lost with messages in flight.
    loop_.post([this] {
      ++stats_.dropped_connections;
      close_connections();
    });
  }
}

void Hub::record(const core::Message& m) {
  std::int64_t now = core::now_ms();
  nlohmann::json props = nlohmann::json::object();
  for (const auto& [k, v] : m.properties.user) props[k] = v;
  nlohmann::json system = {
      {"iothub-connection-device-id", m.origin.device_id},
      {"iothub-connection-auth-method", R"({"scope":"device","type":"sas","issuer":"iothub"})"},
      {"iothub-connection-auth-generation-id", "hubsim"},
      {"iothub-enqueuedtime", iothub::format_iso8601_utc_ms(now)},
      {"iothub-message-source", "Telemetry"}};
  if (!m.properties.message_id.empty()) system["message-id"] = m.properties.message_id;
  if (!m.properties.correlation_id.empty()) system["correlation-id"] = m.properties.correlation_id;
  if (!m.properties.content_type.empty()) system["content-type"] = m.properties.content_type;
  if (!m.properties.content_encoding.empty()) {
    system["content-encoding"] = m.properties.content_encoding;
  }
  // received_at_us is the emulator's own (IoT Hub stamps milliseconds): latency benchmarks.
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  nlohmann::json line = {{"seq", ++sequence_},
                         {"received_at_us", us},
                         {"device_id", m.origin.device_id},
                         {"system_properties", system},
                         {"properties", props},
                         {"payload_base64", iothub::base64_encode(m.payload)},
                         {"sha256", iothub::sha256_hex(m.payload)}};
  std::string text = line.dump() + "\n";
  // One write per line, so a reader never sees half of one (stdio would split long lines).
  std::fflush(options_.record);
  const char* p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    ssize_t n = ::write(fileno(options_.record), p, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the record is best effort; the message was accepted regardless
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

core::Status Hub::send_c2d(const std::string& device, core::Message message) {
  if (options_.devices->keys_for(device).empty()) {
    return {core::Code::kNotFound, "device '" + device + "' is not registered"};
  }
  auto done = std::make_shared<std::promise<core::Status>>();
  auto future = done->get_future();
  loop_.post([this, device, done, message = std::move(message)]() mutable {
    if (deliver_mqtt_c2d(device, message)) {
      done->set_value({});
      return;
    }
    done->set_value(c2d_->send(device, std::move(message)));
  });
  if (future.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
    return {core::Code::kUnavailable, "the hub's loop did not answer"};
  }
  return future.get();
}

bool Hub::deliver_mqtt_c2d(const std::string& device, core::Message& message) {
  auto it = mqtt_c2d_.find(device);
  if (it == mqtt_c2d_.end()) return false;
  std::string bag = iothub::encode_property_bag(message.properties);
  message.address = "devices/" + device + "/messages/devicebound" + (bag.empty() ? "" : "/" + bag);
  core::DurableCopies unused;  // the hub keeps no MQTT session state across restarts
  it->second->deliver(message, {core::Assurance::kDurable, 1, false},
                      "devices/" + device + "/messages/devicebound/#", {1, false}, unused);
  ++stats_.c2d_mqtt;
  return true;
}

// Only the devicebound filter means anything here; the policy already refused others.
namespace {
std::optional<std::string> devicebound_device(const std::string& filter) {
  auto address = core::parse_device_address(filter);
  if (!address || address->endpoint != core::DeviceEndpoint::kDeviceBound) return std::nullopt;
  return address->device_id;
}
}  // namespace

void Hub::subscribe(const std::string& filter, core::Subscriber* subscriber,
                    core::SubscriptionOptions) {
  auto device = devicebound_device(filter);
  if (!device) return;
  mqtt_c2d_[*device] = subscriber;
  // What waited for the device goes out now, after the SUBACK.
  loop_.post([this, device = *device] {
    if (!mqtt_c2d_.contains(device)) return;  // gone again: they keep waiting
    for (auto& m : c2d_->take_waiting(device)) deliver_mqtt_c2d(device, m);
  });
}

bool Hub::unsubscribe(const std::string& filter, core::Subscriber* subscriber) {
  auto device = devicebound_device(filter);
  if (!device) return false;
  auto it = mqtt_c2d_.find(*device);
  if (it == mqtt_c2d_.end() || it->second != subscriber) return false;
  mqtt_c2d_.erase(it);
  return true;
}

void Hub::unsubscribe_all(core::Subscriber* subscriber) {
  std::erase_if(mqtt_c2d_, [subscriber](const auto& kv) { return kv.second == subscriber; });
}

}  // namespace holdfast::hubsim
