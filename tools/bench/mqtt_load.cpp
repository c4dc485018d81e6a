#include "tools/bench/mqtt_load.h"

#include <MQTTAsync.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace holdfast::bench {
namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds() {  // user + system time of this process, all threads
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

void sleep_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

class Load;

struct Client;
struct Slot {  // one publish in flight; reused once it is acknowledged
  Client* client = nullptr;
  std::int64_t sent_ns = 0;
};

struct Client {
  Load* load = nullptr;
  bool subscriber = false;
  std::string id;
  std::string topic;  // publishers: where they publish; subscribers: their filter
  MQTTAsync handle = nullptr;
  std::atomic<int> state{0};  // 0 connecting, 1 ready (connected, subscribed), -1 failed
  std::atomic<bool> lost{false};
  std::atomic<bool> closing{false};
  std::string error;  // written before state = -1
  // Publishers only.
  std::string payload;  // random bytes; the first 8 are replaced by the send time
  std::vector<Slot> slots;
  std::uint64_t quota = 0;  // --messages: this publisher's share
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> acked{0};
  std::atomic<std::uint32_t> in_flight{0};
};

// What the Paho callbacks (its send and receive threads) and the main thread share.
class Load {
 public:
  explicit Load(const MqttLoadOptions& o) : o_(o) {}

  std::vector<std::unique_ptr<Client>> clients;
  std::atomic<std::int64_t> window_start{LLONG_MAX}, window_end{LLONG_MAX};
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> published{0}, acked{0}, received{0}, failed{0}, lost{0};

  MqttLoadResult snapshot() {
    std::lock_guard lock(mu_);
    return r_;
  }

  void note_error(const std::string& e) {
    std::lock_guard lock(mu_);
    if (r_.first_error[0] == '\0') {
      std::snprintf(r_.first_error, sizeof r_.first_error, "%s", e.c_str());
    }
  }

  bool in_window(std::int64_t t) const {
    return t >= window_start.load(std::memory_order_relaxed) &&
           t < window_end.load(std::memory_order_relaxed);
  }

  // Sends the next publish of `slot`'s publisher, or frees the slot.
  void next(Slot& slot) {
    Client& c = *slot.client;
    bool go = !stopping.load(std::memory_order_relaxed) && !c.lost.load();
    if (go && o_.messages != 0) go = c.sent.fetch_add(1) < c.quota;
    if (!go) {
      c.in_flight.fetch_sub(1);
      return;
    }
    thread_local std::string body;
    body.assign(c.payload);
    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.qos = o_.qos;
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
    r.onSuccess = on_published;
    r.onFailure = on_publish_failed;
    r.context = &slot;
    slot.sent_ns = mqtt_now_ns();
    if (body.size() >= 8) std::memcpy(body.data(), &slot.sent_ns, 8);
    m.payload = body.data();
    m.payloadlen = static_cast<int>(body.size());
    int rc = MQTTAsync_sendMessage(c.handle, c.topic.c_str(), &m, &r);
    if (rc != MQTTASYNC_SUCCESS) {
      failed.fetch_add(1);
      note_error(c.id + ": MQTTAsync_sendMessage: " + MQTTAsync_strerror(rc));
      c.in_flight.fetch_sub(1);
      return;
    }
    published.fetch_add(1, std::memory_order_relaxed);
    if (in_window(slot.sent_ns)) {
      std::lock_guard lock(mu_);
      ++r_.published;
    }
  }

  static void on_published(void* context, MQTTAsync_successData*) {
    auto& slot = *static_cast<Slot*>(context);
    Load& l = *slot.client->load;
    std::int64_t t = mqtt_now_ns();
    l.acked.fetch_add(1, std::memory_order_relaxed);
    slot.client->acked.fetch_add(1, std::memory_order_relaxed);
    if (l.in_window(t)) {
      std::lock_guard lock(l.mu_);
      ++l.r_.acked;
      l.r_.last_ack_ns = std::max(l.r_.last_ack_ns, t);
      l.r_.ack_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(t - slot.sent_ns, 0)) /
                         1000);
    }
    l.next(slot);
  }

  static void on_publish_failed(void* context, MQTTAsync_failureData* f) {
    auto& slot = *static_cast<Slot*>(context);
    Load& l = *slot.client->load;
    l.failed.fetch_add(1);
    l.note_error(slot.client->id + ": publish failed: code " + std::to_string(f ? f->code : 0) +
                 (f && f->message ? std::string(" ") + f->message : std::string()));
    slot.client->in_flight.fetch_sub(1);  // the slot stops: the connection is likely gone
  }

  static int on_message(void* context, char* topic, int, MQTTAsync_message* m) {
    Load& l = *static_cast<Client*>(context)->load;
    std::int64_t t = mqtt_now_ns();
    l.received.fetch_add(1, std::memory_order_relaxed);
    if (l.in_window(t)) {
      std::lock_guard lock(l.mu_);
      ++l.r_.received;
      l.r_.last_receive_ns = std::max(l.r_.last_receive_ns, t);
      if (m->payloadlen >= 8) {
        std::int64_t sent = 0;
        std::memcpy(&sent, m->payload, 8);
        l.r_.e2e_us.record(static_cast<std::uint64_t>(std::max<std::int64_t>(t - sent, 0)) / 1000);
      }
    }
    MQTTAsync_freeMessage(&m);
    MQTTAsync_free(topic);
    return 1;
  }

  static void on_connection_lost(void* context, char* cause) {
    auto& c = *static_cast<Client*>(context);
    if (c.closing.load()) return;
    c.lost.store(true);
    c.load->lost.fetch_add(1);
    c.load->note_error(c.id + ": connection lost" + (cause ? std::string(": ") + cause : ""));
  }

  static void on_connected(void* context, MQTTAsync_successData*) {
    auto& c = *static_cast<Client*>(context);
    if (!c.subscriber) {
      c.state.store(1);
      return;
    }
    MQTTAsync_responseOptions r = MQTTAsync_responseOptions_initializer;
    r.context = &c;
    r.onSuccess = [](void* ctx, MQTTAsync_successData* d) {
      auto& s = *static_cast<Client*>(ctx);
      if (d && d->alt.qos == 0x80) {
        s.error = "SUBSCRIBE refused (0x80)";
        s.state.store(-1);
      } else {
        s.state.store(1);
      }
    };
    r.onFailure = on_setup_failed;
    int rc = MQTTAsync_subscribe(c.handle, c.topic.c_str(), c.load->o_.qos, &r);
    if (rc != MQTTASYNC_SUCCESS) {
      c.error = std::string("MQTTAsync_subscribe: ") + MQTTAsync_strerror(rc);
      c.state.store(-1);
    }
  }

  static void on_setup_failed(void* context, MQTTAsync_failureData* f) {
    auto& c = *static_cast<Client*>(context);
    c.error = "connect/subscribe failed: code " + std::to_string(f ? f->code : 0) +
              (f && f->message ? std::string(" ") + f->message : std::string());
    c.state.store(-1);
  }

 private:
  const MqttLoadOptions& o_;
  std::mutex mu_;
  MqttLoadResult r_;
};

// Creates the client and starts connecting it (and subscribing, for subscribers).
void start_client(Client& c, const MqttLoadOptions& o) {
  std::string uri = "tcp://" + o.host + ":" + std::to_string(o.port);
  MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
  co.MQTTVersion = MQTTVERSION_3_1_1;
  co.maxBufferedMessages = static_cast<int>(o.inflight) * 2 + 100;
  int rc = MQTTAsync_createWithOptions(&c.handle, uri.c_str(), c.id.c_str(),
                                       MQTTCLIENT_PERSISTENCE_NONE, nullptr, &co);
  if (rc == MQTTASYNC_SUCCESS) {
    rc = MQTTAsync_setCallbacks(c.handle, &c, Load::on_connection_lost, Load::on_message, nullptr);
  }
  if (rc == MQTTASYNC_SUCCESS) {
    MQTTAsync_connectOptions conn = MQTTAsync_connectOptions_initializer;
    conn.keepAliveInterval = 60;
    conn.cleansession = 1;
    conn.maxInflight = static_cast<int>(std::max(o.inflight, 1u));
    conn.connectTimeout = static_cast<int>(std::max(1.0, o.connect_timeout));
    conn.MQTTVersion = MQTTVERSION_3_1_1;
    conn.onSuccess = Load::on_connected;
    conn.onFailure = Load::on_setup_failed;
    conn.context = &c;
    rc = MQTTAsync_connect(c.handle, &conn);
  }
  if (rc != MQTTASYNC_SUCCESS) {
    c.error = std::string("cannot start: ") + MQTTAsync_strerror(rc);
    c.state.store(-1);
  }
}

void stop_clients(Load& l) {
  std::atomic<unsigned> pending{0};
  for (auto& c : l.clients) {
    c->closing.store(true);
    if (c->handle == nullptr || c->state.load() != 1 || c->lost.load()) continue;
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;
    d.context = &pending;
    d.onSuccess = [](void* p, MQTTAsync_successData*) {
      static_cast<std::atomic<unsigned>*>(p)->fetch_sub(1);
    };
    d.onFailure = [](void* p, MQTTAsync_failureData*) {
      static_cast<std::atomic<unsigned>*>(p)->fetch_sub(1);
    };
    pending.fetch_add(1);
    if (MQTTAsync_disconnect(c->handle, &d) != MQTTASYNC_SUCCESS) pending.fetch_sub(1);
  }
  for (auto until = Clock::now() + std::chrono::seconds(3);
       pending.load() != 0 && Clock::now() < until;) {
    sleep_ms(5);
  }
  for (auto& c : l.clients) {
    if (c->handle != nullptr) MQTTAsync_destroy(&c->handle);
  }
}

}  // namespace

std::int64_t mqtt_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

MqttLoadResult run_mqtt_load(const MqttLoadOptions& o, unsigned proc, unsigned procs,
                             const std::function<std::int64_t(bool ok)>& ready) {
  const bool by_count = o.messages != 0;
  const unsigned window = std::max(o.inflight, 1u);
  const std::string prefix = o.client_id_prefix;
  Load l(o);
  std::uint64_t seed = static_cast<std::uint64_t>(mqtt_now_ns()) * 2654435761u + proc + 1;
  for (unsigned j = proc; j < o.subscribers; j += procs) {
    auto c = std::make_unique<Client>();
    c->subscriber = true;
    c->id = strprintf("%s-s%u", prefix.c_str(), j);
    c->topic = "devices/+/messages/events";
    l.clients.push_back(std::move(c));
  }
  for (unsigned i = proc; i < o.publishers; i += procs) {
    auto c = std::make_unique<Client>();
    c->id = strprintf("%s-p%u", prefix.c_str(), i);
    c->topic = strprintf("devices/dev%u/messages/events", i);
    c->payload.resize(o.payload_bytes);
    for (char& ch : c->payload) {  // xorshift: random, incompressible like encrypted payloads
      seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
      ch = static_cast<char>(seed);
    }
    c->slots.resize(window);
    for (auto& s : c->slots) s.client = c.get();
    c->quota = o.messages / o.publishers + (i < o.messages % o.publishers ? 1 : 0);
    l.clients.push_back(std::move(c));
  }
  for (auto& c : l.clients) c->load = &l;

  // Connect everyone (subscribers subscribed) before the first publish.
  for (auto& c : l.clients) start_client(*c, o);
  auto connect_deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(o.connect_timeout));
  auto settled = [&] {
    return std::all_of(l.clients.begin(), l.clients.end(),
                       [](const auto& c) { return c->state.load() != 0; });
  };
  while (!settled() && Clock::now() < connect_deadline) sleep_ms(2);
  MqttLoadResult result;
  for (auto& c : l.clients) {
    if (c->state.load() == 1) continue;
    if (++result.not_ready <= 3) {
      std::fprintf(stderr, "holdfast-bench mqtt: %s: %s\n", c->id.c_str(),
                   c->state.load() == 0 ? "no CONNACK/SUBACK within --connect-timeout"
                                        : c->error.c_str());
    }
  }
  const std::int64_t start = ready(result.not_ready == 0);
  if (result.not_ready != 0 || start == 0) {
    stop_clients(l);
    return result;
  }

  // Publish: each publisher fills its window; every acknowledgement sends the next message.
  const std::int64_t warm = by_count ? 0 : static_cast<std::int64_t>(o.warmup_seconds * 1e9);
  const std::int64_t end =
      by_count ? LLONG_MAX : start + warm + static_cast<std::int64_t>(o.seconds * 1e9);
  l.window_start.store(start + warm);
  l.window_end.store(end);
  if (std::int64_t wait = start - mqtt_now_ns(); wait > 0) {
    std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  }
  double cpu_start = cpu_seconds();
  bool cpu_started = warm == 0;
  for (auto& c : l.clients) c->in_flight.store(static_cast<std::uint32_t>(c->slots.size()));
  for (auto& c : l.clients) {
    for (auto& s : c->slots) l.next(s);
  }
  auto publishers_idle = [&] {
    return std::all_of(l.clients.begin(), l.clients.end(),
                       [](const auto& c) { return c->in_flight.load() == 0; });
  };
  std::int64_t next_report = start + 5'000'000'000;
  std::uint64_t reported = 0;
  for (;;) {
    sleep_ms(10);
    std::int64_t t = mqtt_now_ns();
    if (!cpu_started && t >= start + warm) {
      cpu_start = cpu_seconds();
      cpu_started = true;
    }
    if (o.progress && procs == 1 && t >= next_report) {
      std::uint64_t a = l.acked.load();
      std::printf("  ... %s acknowledged (%.0f/s in the last 5 s), %s received\n",
                  format_count(a).c_str(), (a - reported) / 5.0,
                  format_count(l.received.load()).c_str());
      std::fflush(stdout);
      reported = a;
      next_report += 5'000'000'000;
    }
    if (by_count ? publishers_idle() : t >= end) break;
    if (l.lost.load() != 0 && publishers_idle()) break;
  }
  const std::int64_t stopped = mqtt_now_ns();
  const double cpu_end = cpu_seconds();
  l.stopping.store(true);

  // Drain: the acknowledgements still in flight, then the subscribers' deliveries (all of them
  // when this process has every publisher, else until none arrived for a second).
  auto drain_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(o.drain_timeout));
  while (!publishers_idle() && Clock::now() < drain_until) sleep_ms(2);
  result.drained = publishers_idle();
  if (o.subscribers > proc) {
    std::uint64_t subs = (o.subscribers - proc + procs - 1) / procs;
    std::uint64_t expect =
        procs == 1 ? (o.qos == 0 ? l.published.load() : l.acked.load()) * subs : ~0ull;
    std::uint64_t last = l.received.load();
    auto idle_since = Clock::now();
    auto quiet = std::chrono::milliseconds(procs == 1 ? 2000 : 1000);
    while (l.received.load() < expect && Clock::now() < drain_until &&
           Clock::now() - idle_since < quiet) {
      sleep_ms(5);
      if (std::uint64_t r = l.received.load(); r != last) {
        last = r;
        idle_since = Clock::now();
      }
    }
  }
  result = l.snapshot();
  result.drained = publishers_idle();
  result.stopped_ns = stopped;
  result.cpu_seconds = cpu_end - cpu_start;
  result.published_total = l.published.load();
  result.acked_total = l.acked.load();
  result.received_total = l.received.load();
  result.failed = l.failed.load();
  result.lost = l.lost.load();
  result.min_acked = ~0ull;
  for (auto& c : l.clients) {
    if (c->subscriber) continue;
    result.min_acked = std::min<std::uint64_t>(result.min_acked, c->acked.load());
    result.max_acked = std::max<std::uint64_t>(result.max_acked, c->acked.load());
  }
  if (result.min_acked == ~0ull) result.min_acked = 0;
  stop_clients(l);
  return result;
}

}  // namespace holdfast::bench
