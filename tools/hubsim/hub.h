#pragma once
// Hub: the emulated IoT Hub behind holdfast-hubsim. Holdfast's own listeners speak the device
// dialogue, configured as the hub is:
//   AMQP (protocols/amqp): TLS, SASL ANONYMOUS / MSSBCBS / PLAIN, `$cbs` put-tokens verified
//     against the device registry, links only for devices with a valid token, 256 KiB messages.
//   MQTT (protocols/mqtt, iothub_only): TLS, username {host}/{id}/?api-version=... with a SAS
//     token of a registered device, telemetry on devices/{id}/messages/events/{bag}, QoS 2 or any
//     refusal closes the connection, C2D on devices/{id}/messages/devicebound/{bag} (counted
//     complete once handed to the device's session: its PUBACK is not awaited).
// What devices send ends here: every accepted message becomes one JSON line with the
// properties a hub stamps.
//
// Faults (set at run time through set_faults(); see Faults) are applied as messages arrive.
//
// Concurrency: the hub runs its own EventLoop on its own thread (started by start()); the
// public methods may be called from any thread and never block on the loop, except stop().

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "broker/core/event_loop.h"
#include "broker/core/ingress.h"
#include "broker/core/subscriptions.h"
#include "broker/core/tls.h"
#include "broker/iothub/device_keys.h"
#include "protocols/amqp/server.h"
#include "protocols/mqtt/server/server.h"
#include "tools/hubsim/c2d.h"

namespace holdfast::hubsim {

struct Faults {
  bool outage = false;               // refuse connections and drop the open ones
  std::uint32_t throttle_per_s = 0;  // above this rate: com.microsoft:device-container-throttled
  bool quota_exhausted = false;      // every message: amqp:resource-limit-exceeded
  std::vector<std::string> unauthorized_devices;  // their messages: amqp:unauthorized-access
  std::uint64_t drop_after = 0;    // drop every connection after this many more messages
  std::uint32_t ack_delay_ms = 0;  // settle each message this much later
};

struct HubOptions {
  std::string bind = "127.0.0.1";
  std::uint16_t amqp_port = 5671;
  std::uint16_t mqtt_port = 8883;
  bool mqtt = true;  // also serve MQTT
  std::string hub_host;  // the host name tokens and addresses name
  bool tls = true;
  std::string cert_file, key_file;
  std::shared_ptr<const iothub::DeviceKeys> devices;
  std::FILE* record = stdout;  // one JSON line per accepted message; flushed per line
};

struct HubStats {
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> dropped_connections{0};
  std::atomic<std::uint64_t> c2d_mqtt{0};  // C2D messages handed to MQTT devices (QoS 1)
};

class Hub final : public core::Ingress, public core::SubscriptionRegistry {
 public:
  explicit Hub(HubOptions options);
  ~Hub() override;

  // Binds and starts the loop thread. Errors: the listener's.
  core::Status start();
  void stop();
  std::uint16_t amqp_port() const { return amqp_port_; }
  std::uint16_t mqtt_port() const { return mqtt_port_; }
  Faults faults() const;
  // Waits (at most 5 s) until the loop has applied an outage change.
  void set_faults(Faults faults);
  const HubStats& stats() const { return stats_; }
  std::size_t connections() const;
  // Any thread; waits for the loop. Queues a cloud-to-device message for `device`.
  // Errors: kNotFound (not registered), kResourceExhausted (50 waiting).
  core::Status send_c2d(const std::string& device, core::Message message);
  const C2dStats& c2d_stats() const { return c2d_->stats(); }

  // core::Ingress, on the loop thread: one device message.
  void submit(core::Message message, core::PublishOptions options,
              core::Callback<void> done) override;
  // core::SubscriptionRegistry: MQTT subscriptions to devices/{id}/messages/devicebound/#
  // (cloud-to-device messages go to them; other filters the MQTT policy allows get nothing).
  void subscribe(const std::string& filter, core::Subscriber* subscriber,
                 core::SubscriptionOptions options) override;
  bool unsubscribe(const std::string& filter, core::Subscriber* subscriber) override;
  void unsubscribe_all(core::Subscriber* subscriber) override;

 private:
  core::Status check(const core::Message& message);
  void record(const core::Message& message);
  void apply_outage(bool outage);
  void close_connections();
  // Loop thread: hands a C2D message to the device's MQTT subscription; false if it has none.
  bool deliver_mqtt_c2d(const std::string& device, core::Message& message);

  HubOptions options_;
  core::EventLoop loop_;
  std::unique_ptr<C2dQueues> c2d_;  // before amqp_, which refers to it
  std::unique_ptr<amqp::AmqpServer> amqp_;
  // Before mqtt_: its sessions unsubscribe from this hub when it is destroyed.
  std::map<std::string, core::Subscriber*> mqtt_c2d_;  // device -> its devicebound subscription
  std::shared_ptr<core::TlsContext> mqtt_tls_;
  std::unique_ptr<mqtt::MqttServer> mqtt_;
  std::thread thread_;
  std::uint16_t amqp_port_ = 0;
  std::uint16_t mqtt_port_ = 0;
  mutable std::mutex mu_;  // guards faults_
  Faults faults_;
  bool outage_applied_ = false;  // loop thread
  std::int64_t window_start_s_ = 0;
  std::uint32_t window_count_ = 0;
  std::uint64_t sequence_ = 0;
  HubStats stats_;
};

}  // namespace holdfast::hubsim
