#include "tools/devsim/mqtt_device.h"

#include <MQTTAsync.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <memory>

#include "broker/core/message.h"
#include "broker/iothub/base64.h"
#include "broker/iothub/property_bag.h"
#include "broker/iothub/sha256.h"

namespace holdfast::devsim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kApiVersion = "2021-04-12";

// Wakes the sending thread whenever a callback changed something (generation counter, so a
// change between its scan and its wait is not missed).
class Events {
 public:
  void notify() {
    {
      std::lock_guard lock(mu_);
      ++generation_;
    }
    cv_.notify_all();
  }
  std::uint64_t generation() {
    std::lock_guard lock(mu_);
    return generation_;
  }
  void wait(std::uint64_t seen, Clock::time_point until) {
    std::unique_lock lock(mu_);
    cv_.wait_until(lock, until, [&] { return generation_ != seen; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::uint64_t generation_ = 0;
};

enum State : int { kConnecting = 0, kReady = 1, kFailed = -1 };

struct Device {
  Device(const CommonOptions& o, const Prepared& p, std::size_t index)
      : id(p.devices[index].id), token(p.devices[index].token), payloads(o, p.tea, index) {}

  Events* events = nullptr;
  Output* out = nullptr;
  std::string id;
  std::string token;
  std::string username;
  bool c2d_wanted = false;
  MQTTAsync handle = nullptr;
  std::atomic<int> state{kConnecting};
  std::atomic<int> failure_status{kExitOk};
  std::mutex error_mu;
  std::string error;
  PayloadSource payloads;
  // Sending thread only.
  std::uint64_t next_seq = 0;
  Clock::time_point ready_at;
  bool saw_ready = false;
  // Callbacks and sending thread.
  std::atomic<std::uint64_t> acked{0}, refused{0}, c2d{0};
  std::atomic<int> in_flight{0};
  std::atomic<bool> closing{false};
  std::atomic<bool> disconnected{false};

  void fail(int status, const std::string& why) {
    {
      std::lock_guard lock(error_mu);
      if (error.empty()) error = why;
    }
    failure_status = status;
    state = kFailed;
    events->notify();
  }
  std::string first_error() {
    std::lock_guard lock(error_mu);
    return error;
  }
};

std::string devicebound_filter(const std::string& id) {
  return "devices/" + id + "/messages/devicebound/#";
}

// ---- Paho callbacks (Paho's threads) ----------------------------------------------------------

void on_subscribed(void* context, MQTTAsync_successData* data) {
  auto* d = static_cast<Device*>(context);
  if (data && data->alt.qos == 0x80) {
    d->fail(kExitCredentialsRefused,
            "the gateway refused the subscription to " + devicebound_filter(d->id));
    return;
  }
  d->out->line({{"device", d->id}, {"subscribed", devicebound_filter(d->id)}});
  d->state = kReady;
  d->events->notify();
}

void on_subscribe_failed(void* context, MQTTAsync_failureData* data) {
  auto* d = static_cast<Device*>(context);
  d->fail(kExitUnreachable,
          "subscribe failed (code " + std::to_string(data ? data->code : 0) + ")");
}

void on_connected(void* context, MQTTAsync_successData*) {
  auto* d = static_cast<Device*>(context);
  if (d->closing) return;
  if (d->c2d_wanted) {
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_subscribed;
    ro.onFailure = on_subscribe_failed;
    ro.context = d;
    std::string filter = devicebound_filter(d->id);
    if (int rc = MQTTAsync_subscribe(d->handle, filter.c_str(), 1, &ro); rc != MQTTASYNC_SUCCESS) {
      d->fail(kExitUnreachable, std::string("subscribe: ") + MQTTAsync_strerror(rc));
    }
    return;
  }
  d->state = kReady;
  d->events->notify();
}

void on_connect_failed(void* context, MQTTAsync_failureData* data) {
  auto* d = static_cast<Device*>(context);
  int code = data ? data->code : MQTTASYNC_FAILURE;
  if (code >= 1 && code <= 5) {  // a CONNACK return code
    static const char* const kReasons[] = {"",
                                           "unacceptable protocol version",
                                           "identifier rejected",
                                           "server unavailable",
                                           "bad user name or password",
                                           "not authorized"};
    d->fail(kExitCredentialsRefused, "the gateway refused the connection: CONNACK " +
                                         std::to_string(code) + " (" + kReasons[code] + ")");
    return;
  }
  std::string why = data && data->message ? data->message : MQTTAsync_strerror(code);
  d->fail(kExitUnreachable, "cannot connect: " + why);
}

void on_published(void* context, MQTTAsync_successData*) {
  auto* d = static_cast<Device*>(context);
  ++d->acked;
  --d->in_flight;
  d->events->notify();
}

void on_publish_failed(void* context, MQTTAsync_failureData*) {
  auto* d = static_cast<Device*>(context);
  ++d->refused;
  --d->in_flight;
  d->events->notify();
}

void on_connection_lost(void* context, char* cause) {
  auto* d = static_cast<Device*>(context);
  d->disconnected = true;
  if (d->closing) return;
  // MQTT 3.1.1 cannot refuse a publish: a gateway that does not take one closes the connection.
  d->fail(kExitUnreachable, std::string("the gateway closed the connection") +
                                (cause ? std::string(": ") + cause : ""));
}

int on_message(void* context, char* topic, int topic_len, MQTTAsync_message* m) {
  auto* d = static_cast<Device*>(context);
  std::string name = topic_len > 0 ? std::string(topic, topic_len) : std::string(topic);
  std::string payload(static_cast<const char*>(m->payload),
                      static_cast<std::size_t>(m->payloadlen));
  nlohmann::json line = {{"device", d->id},
                         {"c2d_topic", name},
                         {"payload_base64", iothub::base64_encode(payload)},
                         {"sha256", iothub::sha256_hex(payload)}};
  std::string prefix = "devices/" + d->id + "/messages/devicebound/";
  core::Properties props;
  if (name.size() > prefix.size() &&
      iothub::apply_property_bag(std::string_view(name).substr(prefix.size()), props).ok()) {
    nlohmann::json p = nlohmann::json::object();
    if (!props.message_id.empty()) p["message_id"] = props.message_id;
    if (!props.correlation_id.empty()) p["correlation_id"] = props.correlation_id;
    for (const auto& [k, v] : props.user) p[k] = v;
    line["properties"] = p;
  }
  d->out->line(line);
  ++d->c2d;
  MQTTAsync_freeMessage(&m);
  MQTTAsync_free(topic);
  return 1;  // handled: Paho sends the PUBACK
}

void on_disconnected(void* context, MQTTAsync_successData*) {
  auto* d = static_cast<Device*>(context);
  d->disconnected = true;
  d->events->notify();
}

void on_disconnect_failed(void* context, MQTTAsync_failureData*) {
  on_disconnected(context, nullptr);
}

// ---- the run (sending thread) -----------------------------------------------------------------

class Run {
 public:
  Run(const CommonOptions& o, const Prepared& p, const MqttDeviceOptions& m, Output& out)
      : o_(o), p_(p), m_(m), out_(out) {}

  ~Run() {
    for (auto& d : devices_) {
      if (d->handle) MQTTAsync_destroy(&d->handle);
    }
  }

  int run() {
    start_ = Clock::now();
    std::uint16_t port = o_.port ? o_.port : (m_.tls ? 8883 : 1883);
    std::string uri =
        std::string(m_.tls ? "ssl://" : "tcp://") + o_.host + ":" + std::to_string(port);
    for (std::size_t i = 0; i < p_.devices.size(); ++i) {
      auto d = std::make_unique<Device>(o_, p_, i);
      d->events = &events_;
      d->out = &out_;
      d->c2d_wanted = m_.c2d;
      d->username = o_.hub_host + "/" + d->id + "/?api-version=" + kApiVersion;
      devices_.push_back(std::move(d));
      connect(*devices_.back(), uri);
    }
    send_until_done();
    close_all();
    return report();
  }

 private:
  void connect(Device& d, const std::string& uri) {
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.MQTTVersion = MQTTVERSION_3_1_1;
    co.maxBufferedMessages = m_.window + 16;
    int rc = MQTTAsync_createWithOptions(&d.handle, uri.c_str(), d.id.c_str(),
                                         MQTTCLIENT_PERSISTENCE_NONE, nullptr, &co);
    if (rc == MQTTASYNC_SUCCESS) {
      rc = MQTTAsync_setCallbacks(d.handle, &d, on_connection_lost, on_message, nullptr);
    }
    if (rc != MQTTASYNC_SUCCESS) {
      d.fail(kExitUnreachable, std::string("cannot create the client: ") + MQTTAsync_strerror(rc));
      return;
    }
    MQTTAsync_connectOptions opts = MQTTAsync_connectOptions_initializer;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    opts.MQTTVersion = MQTTVERSION_3_1_1;
    opts.keepAliveInterval = 60;
    opts.cleansession = 1;
    opts.username = d.username.c_str();
    opts.password = d.token.c_str();
    opts.connectTimeout = std::max(1, o_.timeout_ms / 1000);
    opts.onSuccess = on_connected;
    opts.onFailure = on_connect_failed;
    opts.context = &d;
    if (m_.tls) {
      if (!m_.ca_file.empty()) ssl.trustStore = m_.ca_file.c_str();
      ssl.enableServerCertAuth = 1;
      ssl.verify = 1;  // the certificate must name --host
      opts.ssl = &ssl;
    }
    if (rc = MQTTAsync_connect(d.handle, &opts); rc != MQTTASYNC_SUCCESS) {
      d.fail(kExitUnreachable, std::string("cannot connect: ") + MQTTAsync_strerror(rc));
    }
  }

  void publish(Device& d) {
    std::uint64_t seq = d.next_seq;
    std::string payload = d.payloads.next(seq);
    core::Properties props;
    props.message_id = message_id(d.id, seq);
    props.content_type = "application/octet-stream";
    props.user.emplace_back("seq", std::to_string(seq));
    std::string topic =
        "devices/" + d.id + "/messages/events/" + iothub::encode_property_bag(props);
    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.payload = payload.data();
    m.payloadlen = static_cast<int>(payload.size());
    m.qos = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_published;
    ro.onFailure = on_publish_failed;
    ro.context = &d;  // QoS 1 keeps a device's acknowledgements in order: counting suffices
    ++d.in_flight;
    if (int rc = MQTTAsync_sendMessage(d.handle, topic.c_str(), &m, &ro); rc != MQTTASYNC_SUCCESS) {
      --d.in_flight;
      d.fail(kExitUnreachable, std::string("publish: ") + MQTTAsync_strerror(rc));
      return;
    }
    out_.sent(d.id, seq, props.message_id, payload);
    ++d.next_seq;
    ++sent_;
    last_progress_ = Clock::now();
  }

  // Sends every device's messages as their pacing and windows allow; returns when every device
  // is done (failed, or everything sent and answered) and, with c2d, the listening is over.
  // --duration counts from each device's connection, so slow handshakes do not eat it.
  void send_until_done() {
    bool limited = o_.duration_s > 0;
    auto duration = std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(limited ? o_.duration_s : 0));
    auto timeout = std::chrono::milliseconds(o_.timeout_ms);
    last_progress_ = start_;
    std::uint64_t acked_seen = 0;
    while (true) {
      std::uint64_t seen = events_.generation();
      auto now = Clock::now();
      bool signalled = stop_requested();
      auto wake = now + std::chrono::milliseconds(100);
      bool busy = false;     // messages to send or to be acknowledged, devices connecting
      bool all_over = true;  // every live device's --duration is over
      std::uint64_t acked = 0;
      for (auto& dp : devices_) {
        Device& d = *dp;
        acked += d.acked + d.refused;
        if (d.state == kFailed) continue;
        if (d.state == kConnecting) {
          if (!signalled) {
            busy = true;
            all_over = false;
          }
          continue;
        }
        if (!d.saw_ready) {
          d.saw_ready = true;
          d.ready_at = now;
        }
        bool over = signalled || (limited && now - d.ready_at >= duration);
        if (!over) all_over = false;
        if (!over && limited) wake = std::min(wake, d.ready_at + duration);
        while (!over && d.state == kReady && d.next_seq < p_.count && d.in_flight < m_.window) {
          auto due = due_time(d.ready_at, o_.rate, d.next_seq);
          if (due > now) {
            wake = std::min(wake, due);
            break;
          }
          publish(d);
        }
        if (d.in_flight > 0 || (!over && d.next_seq < p_.count)) busy = true;
      }
      if (acked != acked_seen) {
        acked_seen = acked;
        last_progress_ = now;
      }
      bool listening = m_.c2d && !signalled && !(limited && all_over);
      if (!busy && !listening) return;
      if (busy && now - last_progress_ > timeout) {
        timed_out_ = true;
        return;
      }
      events_.wait(seen, wake);
    }
  }

  void close_all() {
    for (auto& d : devices_) {
      d->closing = true;
      if (!d->handle || d->state == kFailed || !MQTTAsync_isConnected(d->handle)) {
        d->disconnected = true;
        continue;
      }
      MQTTAsync_disconnectOptions opts = MQTTAsync_disconnectOptions_initializer;
      opts.timeout = 1000;
      opts.onSuccess = on_disconnected;
      opts.onFailure = on_disconnect_failed;
      opts.context = d.get();
      if (MQTTAsync_disconnect(d->handle, &opts) != MQTTASYNC_SUCCESS) d->disconnected = true;
    }
    auto until = Clock::now() + std::chrono::seconds(5);
    for (auto& d : devices_) {
      while (!d->disconnected && Clock::now() < until) events_.wait(events_.generation(), until);
    }
  }

  int report() {
    Totals t;
    t.sent = sent_;
    int status = kExitOk;
    std::string error;
    std::uint64_t c2d = 0;
    for (auto& d : devices_) {
      t.acknowledged += d->acked;
      t.refused += d->refused;
      c2d += d->c2d;
      if (d->state == kFailed) {
        status = std::max(status, static_cast<int>(d->failure_status));
        if (error.empty()) error = d->id + ": " + d->first_error();
      }
    }
    if (status == kExitOk && (t.refused > 0 || t.acknowledged < t.sent)) {
      status = kExitMessagesRefused;
    }
    if (timed_out_ && error.empty()) {
      error = "no acknowledgement for " + std::to_string(o_.timeout_ms) + " ms";
    }
    nlohmann::json extra = {{"devices", devices_.size()}, {"c2d_received", c2d}};
    if (!error.empty()) extra["error"] = error;
    out_.summary(t, start_, extra);
    return status;
  }

  const CommonOptions& o_;
  const Prepared& p_;
  const MqttDeviceOptions& m_;
  Output& out_;
  Events events_;
  std::vector<std::unique_ptr<Device>> devices_;
  Clock::time_point start_;
  Clock::time_point last_progress_;
  std::uint64_t sent_ = 0;
  bool timed_out_ = false;
};

}  // namespace

int run_mqtt_devices(const CommonOptions& common, const Prepared& prepared,
                     const MqttDeviceOptions& options, Output& out) {
  Run run(common, prepared, options, out);
  return run.run();
}

}  // namespace holdfast::devsim
