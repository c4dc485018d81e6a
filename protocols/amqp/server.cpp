#include "protocols/amqp/server.h"

#include <proton/ssl.h>
#include <unistd.h>

#include "broker/core/log.h"
#include "broker/core/net.h"
#include "protocols/amqp/connection.h"
#include "protocols/amqp/errors.h"

namespace holdfast::amqp {
namespace {
constexpr std::string_view kLog = "amqp";
}

AmqpServer::AmqpServer(core::EventLoop& loop, core::Ingress& ingress,
                       core::SubscriptionRegistry& registry, core::ConsumerRegistry* consumers,
                       AmqpOptions options)
    : loop_(loop),
      ingress_(ingress),
      registry_(registry),
      consumers_(consumers),
      options_(std::move(options)) {}

AmqpServer::~AmqpServer() {
  stop_accepting();
  connections_.clear();  // each Connection releases its consumers and subscriptions
}

void AmqpServer::SslDomainDeleter::operator()(pn_ssl_domain_t* d) const {
  pn_ssl_domain_free(d);
}

core::Status AmqpServer::start() {
  if (options_.tls) {
    std::string what = "AMQP listener " + options_.bind + ":" + std::to_string(options_.port);
    if (!pn_ssl_present()) {
      return {core::Code::kUnsupported, what + ": this Proton library has no TLS support"};
    }
    ssl_domain_.reset(pn_ssl_domain(PN_SSL_MODE_SERVER));
    if (!ssl_domain_ || pn_ssl_domain_set_credentials(ssl_domain_.get(), options_.cert_file.c_str(),
                                                      options_.key_file.c_str(), nullptr) != 0) {
      return {core::Code::kInvalidArgument,
              what + ": cannot load the certificate '" + options_.cert_file + "' with key '" +
                  options_.key_file + "' (PEM files, key without a passphrase)"};
    }
    if (pn_ssl_domain_set_protocols(ssl_domain_.get(), "TLSv1.2 TLSv1.3") != 0) {
      return {core::Code::kInternal, what + ": cannot restrict TLS to 1.2 and later"};
    }
    if (!options_.ca_file.empty()) {
      if (pn_ssl_domain_set_trusted_ca_db(ssl_domain_.get(), options_.ca_file.c_str()) != 0 ||
          pn_ssl_domain_set_peer_authentication(ssl_domain_.get(), PN_SSL_VERIFY_PEER,
                                                options_.ca_file.c_str()) != 0) {
        return {core::Code::kInvalidArgument,
                what + ": cannot load the client CA file '" + options_.ca_file + "'"};
      }
    } else {
      pn_ssl_domain_set_peer_authentication(ssl_domain_.get(), PN_SSL_ANONYMOUS_PEER, nullptr);
    }
  }
  auto listener = core::listen_tcp("AMQP listener", options_.bind, options_.port);
  if (!listener) return listener.error();
  listen_fd_ = listener->fd;
  port_ = listener->port;
  core::Status s = loop_.add(listen_fd_, EPOLLIN, [this](std::uint32_t) { on_accept(); });
  if (!s.ok()) return s;
  core::log_info(kLog, "listening on " + options_.bind + ":" + std::to_string(port_));
  return {};
}

void AmqpServer::stop_accepting() {
  if (listen_fd_ < 0) return;
  loop_.remove(listen_fd_);
  ::close(listen_fd_);
  listen_fd_ = -1;
}

void AmqpServer::close_all() {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [ptr, connection] : connections_) all.push_back(connection);
  for (auto& c : all) c->close(kConnectionForced, "server shutting down");
}

void AmqpServer::abort_all() {
  std::vector<std::shared_ptr<Connection>> all;
  for (auto& [ptr, connection] : connections_) all.push_back(connection);
  for (auto& c : all) c->abort();
}

void AmqpServer::on_accept() {
  while (auto accepted = core::accept_tcp(listen_fd_, kLog)) {
    if (core::refuse_if_full(*accepted, connections_.size(), options_.max_connections, kLog)) {
      ++stats_.refused_connections;
      continue;
    }
    auto connection = std::make_shared<Connection>(*this, accepted->fd, accepted->peer);
    connections_.emplace(connection.get(), connection);
    ++stats_.accepted;
    ++stats_.connections;
    connection->start();
  }
}

void AmqpServer::on_closed(Connection& connection) {
  if (connections_.erase(&connection) > 0) --stats_.connections;
}

std::vector<AmqpConnectionInfo> AmqpServer::connections() const {
  std::vector<AmqpConnectionInfo> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [ptr, c] : connections_) {
    AmqpConnectionInfo info;
    info.container_id = c->container_id();
    info.peer = c->peer();
    info.links = c->link_count();
    info.connected_for_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - c->connected_at()).count();
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace holdfast::amqp
