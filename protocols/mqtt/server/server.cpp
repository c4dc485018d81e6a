#include "protocols/mqtt/server/server.h"

#include <unistd.h>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/core/net.h"

namespace holdfast::mqtt {
namespace {
constexpr std::string_view kLog = "mqtt";
}

MqttServer::MqttServer(core::EventLoop& loop, core::Ingress& ingress,
                       core::SubscriptionRegistry& registry, ServerOptions options,
                       core::QueueStore* store)
    : loop_(loop), ingress_(ingress), registry_(registry), options_(std::move(options)) {
  if (store == nullptr) return;
  persistence_ = std::make_unique<Persistence>(
      loop, *store,
      [this] {
        std::vector<core::Message> live;
        for (const auto& [topic, r] : retained_) {
          live.push_back(Persistence::retained_record(r.message, r.qos));
        }
        return live;
      },
      [this] {
        std::vector<core::Message> live;
        for (const auto& [id, session] : sessions_) {
          if (!session->persistent) continue;
          std::map<std::string, StoredSubscription> subs;
          for (const auto& [filter, o] : session->subscriptions) {
            subs[filter] = {static_cast<QoS>(o.max_qos), o.no_local};
          }
          live.push_back(Persistence::session_record(id, subs));
        }
        return live;
      });
}

core::Status MqttServer::restore() {
  if (!persistence_) return {};
  auto state = persistence_->load();
  if (!state) return state.error();
  for (auto& [message, qos] : state->retained) {
    std::string topic = message.address;
    retained_[topic] = {std::move(message), qos};
  }
  std::size_t pending = 0;
  for (auto& [id, loaded] : state->sessions) {
    auto session = std::make_unique<Session>(id, options_, stats_, persistence_.get());
    session->persistent = true;
    for (const auto& [filter, sub] : loaded.subscriptions) {
      core::SubscriptionOptions o{static_cast<std::uint8_t>(sub.qos), sub.no_local};
      session->subscriptions[filter] = o;
      registry_.subscribe(filter, session.get(), o);
    }
    for (std::size_t i = 0; i < loaded.pending.size(); ++i) {
      session->restore_message(loaded.pending[i].message, loaded.pending_qos[i],
                               loaded.pending[i].seq);
    }
    pending += loaded.pending.size();
    sessions_.emplace(id, std::move(session));
  }
  core::log_info(kLog, "restored " + std::to_string(retained_.size()) + " retained messages, " +
                           std::to_string(sessions_.size()) + " persistent sessions with " +
                           std::to_string(pending) + " undelivered messages");
  return {};
}

MqttServer::~MqttServer() {
  stop_accepting();
  for (auto& [ptr, connection] : connections_) connection->detach_session();
  for (auto& [id, session] : sessions_) registry_.unsubscribe_all(session.get());
}

core::Status MqttServer::start() { return listen(options_.bind, options_.port, options_.tls); }

core::Status MqttServer::listen(const std::string& bind, std::uint16_t port,
                                std::shared_ptr<core::TlsContext> tls) {
  const char* what = tls ? "MQTT TLS listener" : "MQTT listener";
  auto listener = core::listen_tcp(what, bind, port);
  if (!listener) return listener.error();
  auto endpoint = std::make_unique<Endpoint>(Endpoint{listener->fd, listener->port, std::move(tls)});
  Endpoint* e = endpoint.get();
  core::Status s = loop_.add(e->fd, EPOLLIN, [this, e](std::uint32_t) { on_accept(*e); });
  if (!s.ok()) {
    ::close(e->fd);
    return s;
  }
  if (endpoints_.empty()) port_ = e->port;
  endpoints_.push_back(std::move(endpoint));
  core::log_info(kLog, std::string("listening on ") + bind + ":" + std::to_string(e->port) +
                           (e->tls ? " (TLS)" : ""));
  return {};
}

std::uint16_t MqttServer::tls_port() const {
  for (const auto& e : endpoints_) {
    if (e->tls) return e->port;
  }
  return 0;
}

void MqttServer::stop_accepting() {
  for (auto& e : endpoints_) {
    if (e->fd < 0) continue;
    loop_.remove(e->fd);
    ::close(e->fd);
    e->fd = -1;
  }
}

void MqttServer::close_all() {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [ptr, connection] : connections_) all.push_back(connection);
  for (auto& c : all) c->close(false, "server shutting down", ReasonCode::kServerShuttingDown);
}

void MqttServer::on_accept(Endpoint& endpoint) {
  while (auto accepted = core::accept_tcp(endpoint.fd, kLog)) {
    if (core::refuse_if_full(*accepted, connections_.size(), options_.max_connections, kLog)) {
      ++stats_.refused_connections;
      continue;
    }
    auto connection = std::make_shared<Connection>(*this, accepted->fd, accepted->peer,
                                                   endpoint.tls);
    connections_.emplace(connection.get(), connection);
    ++stats_.accepted;
    ++stats_.connections;
    connection->start();
  }
}

void MqttServer::on_closed(Connection& connection) {
  if (connections_.erase(&connection) > 0) --stats_.connections;
}

Session& MqttServer::open_session(const std::string& client_id, bool clean, bool& present) {
  present = false;
  auto it = sessions_.find(client_id);
  if (it != sessions_.end()) {
    Session& old = *it->second;
    if (Connection* holder = old.connection()) {
      // Session takeover (MQTT-3.1.4-3): the older connection goes, its will is published.
      holder->detach_session();
      old.attach(nullptr);
      holder->close(true, "session taken over by a new connection", ReasonCode::kSessionTakenOver);
    }
    if (clean || !old.persistent) {
      if (old.persistent && persistence_) persistence_->forget_session(client_id);
      registry_.unsubscribe_all(&old);
      sessions_.erase(it);
    } else {
      present = true;
      return old;
    }
  }
  auto session = std::make_unique<Session>(client_id, options_, stats_, persistence_.get());
  Session& ref = *session;
  sessions_.emplace(client_id, std::move(session));
  return ref;
}

void MqttServer::release_session(Session& session) {
  if (session.persistent) return;
  registry_.unsubscribe_all(&session);
  sessions_.erase(session.client_id());
}

void MqttServer::retain(const core::Message& message, QoS qos) {
  if (message.payload.empty()) {
    retained_.erase(message.address);
  } else {
    retained_[message.address] = {message, qos};
  }
  if (persistence_) persistence_->save_retained(message, qos);
}

void MqttServer::send_retained(Session& session, const std::string& filter, QoS max_qos) {
  for (const auto& [topic, r] : retained_) {
    if (core::topic_matches(filter, topic)) {
      session.send_message(r.message, std::min(r.qos, max_qos), true);
    }
  }
}

std::string MqttServer::assign_client_id() {
  std::string id;
  do {
    id = "holdfast-" + std::to_string(getpid()) + "-" + std::to_string(++assigned_ids_);
  } while (sessions_.contains(id));
  return id;
}

std::vector<ConnectionInfo> MqttServer::connections() const {
  std::vector<ConnectionInfo> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [ptr, c] : connections_) {
    ConnectionInfo info;
    info.client_id = c->client_id();
    info.peer = c->peer();
    info.protocol = "mqtt/" + std::string(protocol_version_name(c->version()));
    info.connected_for_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - c->connected_at()).count();
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace holdfast::mqtt
