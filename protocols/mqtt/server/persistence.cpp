#include "protocols/mqtt/server/persistence.h"

#include "broker/core/log.h"

namespace holdfast::mqtt {
namespace {

constexpr std::string_view kLog = "mqtt";
constexpr const char* kQosKey = "\0qos";  // MQTT strings cannot hold U+0000: no clash
const std::string kQosProperty(kQosKey, 4);
constexpr const char* kCursor = "log";

QoS take_qos(core::Message& m) {
  QoS qos = QoS::kAtMostOnce;
  auto& user = m.properties.user;
  if (!user.empty() && user.back().first == kQosProperty) {
    qos = static_cast<QoS>(std::min(2, std::atoi(user.back().second.c_str())));
    user.pop_back();
  }
  return qos;
}

std::map<std::string, StoredSubscription> parse_subscriptions(const std::string& payload) {
  std::map<std::string, StoredSubscription> subs;
  std::size_t i = 0;
  while (i + 4 <= payload.size()) {
    StoredSubscription s;
    s.qos = static_cast<QoS>(std::min(2, static_cast<int>(payload[i])));
    s.no_local = payload[i + 1] != 0;
    std::size_t n = (static_cast<unsigned char>(payload[i + 2]) << 8) |
                    static_cast<unsigned char>(payload[i + 3]);
    i += 4;
    if (i + n > payload.size()) break;
    subs[payload.substr(i, n)] = s;
    i += n;
  }
  return subs;
}

// Reads a whole queue from its head, in chunks. Main thread only (blocks).
core::Result<std::vector<core::StoredMessage>> read_all(core::QueueStore& store,
                                                        const std::string& queue) {
  std::vector<core::StoredMessage> all;
  core::ReadRequest request;
  request.cursor = kCursor;
  request.max_messages = 1000;
  request.max_bytes = 8 << 20;
  while (true) {
    auto r = core::call_sync<core::ReadResult>(
        [&](auto done) { store.read(queue, request, std::move(done)); });
    if (!r) {
      if (r.error().code() == core::Code::kNotFound) return all;
      return core::error(r.error());
    }
    if (r->messages.empty()) return all;
    for (auto& m : r->messages) all.push_back(std::move(m));
    request.cursor.clear();
    request.from = r->next;
  }
}

}  // namespace

std::string session_queue(const std::string& client_id) {
  return "$mqtt/session/" + client_id;
}

Persistence::Persistence(core::EventLoop& loop, core::QueueStore& store,
                         std::function<std::vector<core::Message>()> retained,
                         std::function<std::vector<core::Message>()> sessions)
    : loop_(loop),
      store_(store),
      retained_{"$mqtt/retained", 0, 0, std::move(retained)},
      sessions_{"$mqtt/sessions", 0, 0, std::move(sessions)} {}

core::Message Persistence::retained_record(const core::Message& message, QoS qos) {
  core::Message r;
  r.address = message.address;
  r.payload = message.payload;
  r.properties = message.properties;
  r.origin = message.origin;
  r.properties.user.emplace_back(kQosProperty, std::to_string(static_cast<int>(qos)));
  return r;
}

core::Message Persistence::session_record(const std::string& client_id,
                                          const std::map<std::string, StoredSubscription>& subs) {
  core::Message r;
  r.address = client_id;
  r.payload.push_back('\1');  // never empty: an empty payload means "session ended"
  for (const auto& [filter, s] : subs) {
    std::size_t n = std::min<std::size_t>(filter.size(), 0xffff);
    r.payload.push_back(static_cast<char>(s.qos));
    r.payload.push_back(static_cast<char>(s.no_local));
    r.payload.push_back(static_cast<char>(n >> 8));
    r.payload.push_back(static_cast<char>(n & 0xff));
    r.payload.append(filter, 0, n);
  }
  return r;
}

core::Result<LoadedState> Persistence::load() {
  LoadedState state;
  // Retained: the last record of each topic wins; an empty payload cleared it.
  auto retained = read_all(store_, retained_.queue);
  if (!retained) return core::error(retained.error());
  std::map<std::string, std::pair<core::Message, QoS>> topics;
  for (auto& m : *retained) {
    if (m.message.payload.empty()) {
      topics.erase(m.message.address);
    } else {
      QoS qos = take_qos(m.message);
      std::string topic = m.message.address;
      topics[topic] = {std::move(m.message), qos};
    }
  }
  for (auto& [topic, entry] : topics) state.retained.push_back(std::move(entry));
  retained_.live = topics.size();
  retained_.records = retained->size();

  auto sessions = read_all(store_, sessions_.queue);
  if (!sessions) return core::error(sessions.error());
  for (auto& m : *sessions) {
    const std::string& id = m.message.address;
    if (m.message.payload.empty()) {
      state.sessions.erase(id);
    } else {
      state.sessions[id].subscriptions = parse_subscriptions(m.message.payload.substr(1));
    }
  }
  sessions_.live = state.sessions.size();
  sessions_.records = sessions->size();
  for (auto& [id, session] : state.sessions) {
    auto pending = read_all(store_, session_queue(id));
    if (!pending) return core::error(pending.error());
    for (auto& m : *pending) {
      session.pending_qos.push_back(take_qos(m.message));
      session.pending.push_back(std::move(m));
    }
  }
  return state;
}

void Persistence::append(Log& log, core::Message record) {
  ++log.records;
  std::vector<core::AppendRequest> batch(1);
  batch[0].queue = log.queue;
  batch[0].message = std::move(record);
  store_.append(std::move(batch), [queue = log.queue](core::Result<std::vector<core::Seq>> r) {
    if (!r) core::log_warn(kLog, "cannot persist " + queue + ": " + r.error().to_string());
  });
  if (log.records > 4 * log.live + 64) rewrite(log);
}

void Persistence::rewrite(Log& log) {
  // Append every live record again, then consume everything before them.
  std::vector<core::Message> live = log.snapshot();
  std::vector<core::AppendRequest> batch(live.size());
  for (std::size_t i = 0; i < live.size(); ++i) {
    batch[i].queue = log.queue;
    batch[i].message = std::move(live[i]);
  }
  log.live = live.size();
  log.records = live.size();
  std::string queue = log.queue;
  // The commit must follow the append: find the log's end when the append completes.
  auto commit_before = [this, queue](core::Seq first_live) {
    if (first_live <= 1) return;
    store_.commit(queue, kCursor, first_live - 1, [queue](core::Result<core::Seq> r) {
      if (!r) core::log_warn(kLog, "cannot compact " + queue + ": " + r.error().to_string());
    });
  };
  if (batch.empty()) {
    store_.queue_stats(queue, [commit_before](core::Result<core::QueueStats> s) mutable {
      if (s) commit_before(s->next);
    });
    return;
  }
  store_.append(std::move(batch), [commit_before](core::Result<std::vector<core::Seq>> r) mutable {
    if (r && !r->empty()) commit_before(r->front());
  });
}

void Persistence::save_retained(const core::Message& message, QoS qos) {
  if (message.payload.empty()) {
    core::Message clear;
    clear.address = message.address;
    if (retained_.live > 0) --retained_.live;
    append(retained_, std::move(clear));
  } else {
    ++retained_.live;  // an upper bound: replacing a topic counts twice until the next rewrite
    append(retained_, retained_record(message, qos));
  }
}

void Persistence::save_session(const std::string& client_id,
                               const std::map<std::string, StoredSubscription>& subscriptions) {
  ++sessions_.live;
  append(sessions_, session_record(client_id, subscriptions));
}

void Persistence::forget_session(const std::string& client_id) {
  core::Message end;
  end.address = client_id;
  if (sessions_.live > 0) --sessions_.live;
  append(sessions_, std::move(end));
  drop_outgoing(client_id);
}

void Persistence::save_outgoing(const std::string& client_id, const core::Message& message, QoS qos,
                                std::function<void(core::Seq)> done) {
  std::vector<core::AppendRequest> batch(1);
  batch[0].queue = session_queue(client_id);
  batch[0].message = retained_record(message, qos);
  store_.append(std::move(batch), [this, done = std::move(done)](
                                      core::Result<std::vector<core::Seq>> r) mutable {
    core::Seq seq = r && !r->empty() ? r->front() : 0;
    if (!r) core::log_warn(kLog, "session message kept in memory only: " + r.error().to_string());
    loop_.post([done = std::move(done), seq] { done(seq); });
  });
}

void Persistence::acknowledge(const std::string& client_id, core::Seq seq) {
  store_.commit(session_queue(client_id), "client", seq, [](core::Result<core::Seq>) {});
}

void Persistence::drop_outgoing(const std::string& client_id) {
  store_.purge(session_queue(client_id), [](core::Result<std::uint64_t>) {});
}

}  // namespace holdfast::mqtt
