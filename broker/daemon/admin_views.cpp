// What the admin endpoint shows: Prometheus metrics and JSON views for holdfastctl.
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>

#include "broker/admin/message_json.h"
#include "broker/core/log.h"
#include "broker/daemon/daemon.h"
#include "broker/daemon/on_loop.h"

namespace holdfast::daemon {
namespace {

std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Metrics {
 public:
  // Counts stay exact (no exponent) up to 10^15 even when passed as double.
  Metrics() { out_.precision(15); }
  void family(const char* name, const char* type, const char* help) {
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  template <typename T>
  void sample(const char* name, T value, std::string labels = "") {
    out_ << name;
    if (!labels.empty()) out_ << '{' << labels << '}';
    out_ << ' ' << value << '\n';
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
};

}  // namespace

std::string Daemon::metrics() {
  Metrics m;
  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { store_->list_queues(std::move(done)); });
  auto store =
      core::call_sync<core::StoreStats>([&](auto done) { store_->store_stats(std::move(done)); });
  std::int64_t now = core::now_ms();
  if (queues) {
    // One family per figure, one sample per queue.
    struct PerQueue {
      const char* name;
      const char* type;
      const char* help;
      double (*value)(const core::QueueStats&, std::int64_t now);
    };
    static constexpr PerQueue kPerQueue[] = {
        {"holdfast_queue_depth", "gauge", "Messages stored in the queue.",
         [](const core::QueueStats& q, std::int64_t) { return double(q.depth); }},
        {"holdfast_queue_bytes", "gauge", "Stored bytes of the queue's messages.",
         [](const core::QueueStats& q, std::int64_t) { return double(q.bytes); }},
        {"holdfast_queue_oldest_age_seconds", "gauge",
         "Age of the queue's oldest message (0 when empty).",
         [](const core::QueueStats& q, std::int64_t now) {
           return q.oldest_received_at_ms == 0 ? 0.0 : (now - q.oldest_received_at_ms) / 1000.0;
         }},
        {"holdfast_queue_appended_total", "counter", "Messages appended to the queue.",
         [](const core::QueueStats& q, std::int64_t) { return double(q.appended); }},
        {"holdfast_queue_removed_total", "counter", "Messages consumed or purged.",
         [](const core::QueueStats& q, std::int64_t) { return double(q.removed); }},
    };
    for (const auto& f : kPerQueue) {
      m.family(f.name, f.type, f.help);
      for (const auto& q : *queues) {
        m.sample(f.name, f.value(q, now), "queue=\"" + label(q.name) + "\"");
      }
    }
    m.family("holdfast_queue_dropped_total", "counter",
             "Messages dropped by retention, by reason.");
    for (const auto& q : *queues) {
      m.sample("holdfast_queue_dropped_total", q.dropped,
               "queue=\"" + label(q.name) + "\",reason=\"quota\"");
      m.sample("holdfast_queue_dropped_total", q.expired,
               "queue=\"" + label(q.name) + "\",reason=\"ttl\"");
    }
  }
  if (store) {
    m.family("holdfast_store_messages", "gauge", "Messages in all queues.");
    m.sample("holdfast_store_messages", store->messages);
    m.family("holdfast_store_bytes", "gauge", "Stored bytes in all queues.");
    m.sample("holdfast_store_bytes", store->bytes);
    m.family("holdfast_store_free_disk_bytes", "gauge",
             "Free space on the store's file system (for unprivileged writers).");
    m.sample("holdfast_store_free_disk_bytes", store->free_disk_bytes);
    m.family("holdfast_store_write_batches_total", "counter", "Group commits written.");
    m.sample("holdfast_store_write_batches_total", store->write_batches);
    m.family("holdfast_store_synced_batches_total", "counter",
             "Group commits that waited for fsync.");
    m.sample("holdfast_store_synced_batches_total", store->synced_batches);
    m.family("holdfast_store_write_seconds_total", "counter",
             "Time spent writing group commits (divide by batches for the mean commit latency).");
    m.sample("holdfast_store_write_seconds_total", store->total_write_micros / 1e6);
    m.family("holdfast_store_appended_messages_total", "counter",
             "Messages appended (divide by batches for the mean batch size).");
    m.sample("holdfast_store_appended_messages_total", store->appended_messages);
    m.family("holdfast_store_last_batch_messages", "gauge", "Messages in the last group commit.");
    m.sample("holdfast_store_last_batch_messages", store->last_batch_messages);
    m.family("holdfast_store_rejected_appends_total", "counter",
             "Appends refused (quota, disk nearly full, bad queue name).");
    m.sample("holdfast_store_rejected_appends_total", store->rejected_appends);
  }
  const auto& r = router_->counters();
  m.family("holdfast_ingress_messages_total", "counter", "Messages received, by protocol.");
  for (auto p : {core::Protocol::kMqtt, core::Protocol::kAmqp, core::Protocol::kCoap}) {
    m.sample("holdfast_ingress_messages_total", r.received[static_cast<int>(p)].load(),
             "protocol=\"" + std::string(core::protocol_name(p)) + "\"");
  }
  m.family("holdfast_dropped_messages_total", "counter", "Messages not stored, by reason.");
  m.sample("holdfast_dropped_messages_total", r.no_route.load(), "reason=\"no-route\"");
  m.sample("holdfast_dropped_messages_total", r.store_refused.load(), "reason=\"store-refused\"");
  std::uint64_t connections = 0, protocol_errors = 0, dropped_out = 0;
  for (const auto& s : mqtt_) {
    connections += s->stats().connections;
    protocol_errors += s->stats().protocol_errors;
    dropped_out += s->stats().dropped_out;
  }
  std::uint64_t amqp_connections = 0, amqp_errors = 0, amqp_dropped = 0, amqp_refused = 0;
  for (const auto& s : amqp_) {
    amqp_connections += s->stats().connections;
    amqp_errors += s->stats().protocol_errors;
    amqp_dropped += s->stats().dropped_live;
    amqp_refused += s->stats().refused_messages;
  }
  std::uint64_t coap_endpoints = 0, coap_malformed = 0, coap_dropped = 0, coap_refused = 0,
                coap_duplicates = 0, coap_limited = 0, coap_observers = 0, coap_unsent = 0;
  for (const auto& s : coap_) {
    const auto& c = s->stats();
    coap_endpoints += c.endpoints;
    coap_malformed += c.malformed;
    coap_dropped += c.dropped_live;
    coap_refused += c.refused_messages;
    coap_duplicates += c.duplicates;
    coap_limited += c.rate_limited;
    coap_unsent += c.answers_not_sent;
    coap_observers += c.observers;
  }
  m.sample("holdfast_dropped_messages_total", dropped_out + amqp_dropped + coap_dropped,
           "reason=\"slow-subscriber\"");
  m.family("holdfast_refused_messages_total", "counter",
           "Messages refused back to their sender (rejected or released), by protocol.");
  m.sample("holdfast_refused_messages_total", amqp_refused, "protocol=\"amqp\"");
  m.sample("holdfast_refused_messages_total", coap_refused, "protocol=\"coap\"");
  m.family("holdfast_connections", "gauge", "Open client connections, by protocol.");
  m.sample("holdfast_connections", connections, "protocol=\"mqtt\"");
  m.sample("holdfast_connections", amqp_connections, "protocol=\"amqp\"");
  m.sample("holdfast_connections", coap_endpoints, "protocol=\"coap\"");
  m.family("holdfast_protocol_errors_total", "counter",
           "Connections closed because of malformed or forbidden input.");
  m.sample("holdfast_protocol_errors_total", protocol_errors, "protocol=\"mqtt\"");
  m.sample("holdfast_protocol_errors_total", amqp_errors, "protocol=\"amqp\"");
  m.sample("holdfast_protocol_errors_total", coap_malformed, "protocol=\"coap\"");
  m.family("holdfast_coap_duplicates_total", "counter",
           "CoAP retransmissions answered again without storing the message twice.");
  m.sample("holdfast_coap_duplicates_total", coap_duplicates);
  m.family("holdfast_coap_rate_limited_total", "counter",
           "CoAP requests refused with 4.29 by the per-source rate limit.");
  m.sample("holdfast_coap_rate_limited_total", coap_limited);
  m.family("holdfast_coap_answers_not_sent_total", "counter",
           "CoAP answers the kernel did not take (send buffer full): CON clients retransmit.");
  m.sample("holdfast_coap_answers_not_sent_total", coap_unsent);
  m.family("holdfast_coap_observers", "gauge", "CoAP observations registered now.");
  m.sample("holdfast_coap_observers", coap_observers);
  if (bridge_) {
    auto upstreams = bridge_->stats();
    auto each = [&](const char* family, const char* type, const char* help,
                    auto value) {
      m.family(family, type, help);
      for (const auto& u : upstreams) {
        m.sample(family, value(*u.stats), "upstream=\"" + label(u.name) + "\"");
      }
    };
    each("holdfast_bridge_connected", "gauge", "1 while the upstream connection is up.",
         [](const auto& s) { return std::uint64_t{s.connected.load()}; });
    each("holdfast_bridge_paused", "gauge", "1 while an operator paused the upstream.",
         [](const auto& s) { return std::uint64_t{s.paused.load()}; });
    each("holdfast_bridge_sent_total", "counter", "Messages sent upstream, resends included.",
         [](const auto& s) { return s.sent.load(); });
    each("holdfast_bridge_forwarded_total", "counter", "Messages the upstream accepted.",
         [](const auto& s) { return s.forwarded.load(); });
    each("holdfast_bridge_refused_total", "counter", "Transfers the upstream refused.",
         [](const auto& s) { return s.refused.load(); });
    each("holdfast_bridge_dead_lettered_total", "counter",
         "Messages the upstream refused for good, moved to a dead-letter queue.",
         [](const auto& s) { return s.dead_lettered.load(); });
    each("holdfast_bridge_retried_total", "counter",
         "Refusals the bridge backs off from and sends again (transient, quota).",
         [](const auto& s) { return s.retried.load(); });
    each("holdfast_bridge_throttled_total", "counter",
         "Refusals for com.microsoft:device-container-throttled.",
         [](const auto& s) { return s.throttled.load(); });
    each("holdfast_bridge_connect_failures_total", "counter", "Failed connection attempts.",
         [](const auto& s) { return s.connect_failures.load(); });
    each("holdfast_bridge_batches_total", "counter",
         "IoT Hub batch transfers sent, each carrying several messages.",
         [](const auto& s) { return s.batches.load(); });
    each("holdfast_bridge_backlogs_total", "counter",
         "Queues that drained a backlog with a live share of the window.",
         [](const auto& s) { return s.backlogs.load(); });
    each("holdfast_bridge_live_forwarded_total", "counter",
         "Of the forwarded messages, those sent as live while their queue drained a backlog.",
         [](const auto& s) { return s.live_forwarded.load(); });
    m.family("holdfast_bridge_c2d_total", "counter",
             "Cloud-to-device messages by what became of them: taken by the device (complete at "
             "the hub), rejected by it, abandoned (handed back to the hub), kept in the store "
             "for a device that was not there.");
    for (const auto& u : upstreams) {
      std::string up = "upstream=\"" + label(u.name) + "\",outcome=";
      const auto& s = *u.stats;
      m.sample("holdfast_bridge_c2d_total", s.c2d_delivered.load(), up + "\"taken\"");
      m.sample("holdfast_bridge_c2d_total", s.c2d_rejected.load(), up + "\"rejected\"");
      m.sample("holdfast_bridge_c2d_total", s.c2d_abandoned.load(), up + "\"abandoned\"");
      m.sample("holdfast_bridge_c2d_total", s.c2d_kept.load(), up + "\"kept\"");
    }
  }
  return m.str();
}

std::string Daemon::status_json() {
  nlohmann::json j;
  j["version"] = HOLDFAST_VERSION;
  j["ready"] = ready_.load();
  j["uptime_seconds"] =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count();
  j["store"]["path"] = config_.store.path;
  auto store =
      core::call_sync<core::StoreStats>([&](auto done) { store_->store_stats(std::move(done)); });
  if (store) {
    j["store"]["queues"] = store->queues;
    j["store"]["messages"] = store->messages;
    j["store"]["bytes"] = store->bytes;
    j["store"]["free_bytes"] = store->free_disk_bytes;
  }
  j["listeners"] = nlohmann::json::array();
  for (const auto& s : mqtt_) {
    j["listeners"].push_back({{"protocol", "mqtt"},
                              {"bind", s->options().bind},
                              {"port", s->port()},
                              {"connections", s->stats().connections.load()}});
  }
  j["upstreams"] = nlohmann::json::array();
  if (bridge_) {
    for (const auto& u : bridge_->stats()) {
      j["upstreams"].push_back({{"name", u.name},
                                {"connected", u.stats->connected.load()},
                                {"paused", u.stats->paused.load()},
                                {"sent", u.stats->sent.load()},
                                {"forwarded", u.stats->forwarded.load()},
                                {"refused", u.stats->refused.load()},
                                {"dead_lettered", u.stats->dead_lettered.load()}});
    }
  }
  for (const auto& s : amqp_) {
    j["listeners"].push_back({{"protocol", "amqp"},
                              {"bind", s->options().bind},
                              {"port", s->port()},
                              {"connections", s->stats().connections.load()}});
  }
  for (const auto& s : coap_) {
    j["listeners"].push_back({{"protocol", "coap"},
                              {"bind", s->options().bind},
                              {"port", s->port()},
                              {"dtls", s->options().dtls},
                              {"connections", s->stats().endpoints.load()}});
  }
  return j.dump(2) + "\n";
}

std::string Daemon::queues_json() {
  nlohmann::json j = nlohmann::json::array();
  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { store_->list_queues(std::move(done)); });
  if (!queues) return nlohmann::json{{"error", queues.error().to_string()}}.dump() + "\n";
  std::int64_t now = core::now_ms();
  for (const auto& q : *queues) j.push_back(broker::queue_json(q, now));
  return j.dump(2) + "\n";
}

std::string Daemon::connections_json() {
  if (!ready_) return "[]\n";
  auto list = on_loop(*loop_, [this] {
    std::vector<mqtt::ConnectionInfo> all;
    for (const auto& s : mqtt_) {
      auto c = s->connections();
      all.insert(all.end(), c.begin(), c.end());
    }
    for (const auto& s : amqp_) {
      for (const auto& c : s->connections()) {
        all.push_back({c.container_id, c.peer, "amqp/1.0", c.connected_for_ms, c.links});
      }
    }
    for (const auto& s : coap_) {
      for (const auto& c : s->endpoints()) {
        all.push_back({c.device_id.empty() ? c.peer : c.device_id, c.peer,
                       s->options().dtls ? "coaps" : "coap", c.connected_for_ms,
                       c.observations});
      }
    }
    return all;
  });
  nlohmann::json j = nlohmann::json::array();
  if (!list) return j.dump() + "\n";
  for (const auto& c : *list) {
    j.push_back({{"client_id", c.client_id},
                 {"peer", c.peer},
                 {"protocol", c.protocol},
                 {"connected_for_ms", c.connected_for_ms}});
  }
  return j.dump(2) + "\n";
}

std::pair<int, std::string> Daemon::peek_json(const std::string& queue, std::uint64_t from,
                                              std::size_t max) {
  core::ReadRequest request;
  request.from = from;
  request.max_messages = max;
  request.max_bytes = 16 << 20;
  auto read = core::call_sync<core::ReadResult>(
      [&](auto done) { store_->read(queue, request, std::move(done)); });
  if (!read) {
    int status = read.error().code() == core::Code::kNotFound ? 404 : 500;
    return {status, nlohmann::json{{"error", read.error().to_string()}}.dump() + "\n"};
  }
  nlohmann::json messages = nlohmann::json::array();
  for (const auto& m : read->messages) messages.push_back(broker::message_json(m));
  return {200,
          nlohmann::json{{"queue", queue}, {"next", read->next}, {"messages", messages}}.dump(2) +
              "\n"};
}

std::pair<int, std::string> Daemon::purge_json(const std::string& queue) {
  auto purged =
      core::call_sync<std::uint64_t>([&](auto done) { store_->purge(queue, std::move(done)); });
  if (!purged) {
    int status = purged.error().code() == core::Code::kNotFound ? 404 : 500;
    return {status, nlohmann::json{{"error", purged.error().to_string()}}.dump() + "\n"};
  }
  core::log_info("admin", "purged queue '" + queue + "' on request: " + std::to_string(*purged) +
                              " messages removed");
  return {200, nlohmann::json{{"queue", queue}, {"purged", *purged}}.dump(2) + "\n"};
}

}  // namespace holdfast::daemon
