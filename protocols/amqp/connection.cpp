#include "protocols/amqp/connection.h"

#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/ssl.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/iothub/device_keys.h"
#include "broker/iothub/sas.h"
#include "broker/iothub/token_store.h"
#include "protocols/amqp/errors.h"
#include "protocols/amqp/links.h"
#include "protocols/amqp/sasl.h"
#include "protocols/amqp/server.h"

namespace holdfast::amqp {
namespace {

constexpr std::string_view kLog = "amqp";

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string terminus_address(pn_terminus_t* t) {
  const char* a = t ? pn_terminus_get_address(t) : nullptr;
  return a ? a : "";
}

void set_condition(pn_condition_t* c, std::string_view name, const std::string& description) {
  pn_condition_set_name(c, std::string(name).c_str());
  pn_condition_set_description(c, description.c_str());
}

}  // namespace

Connection::Connection(AmqpServer& server, int fd, std::string peer)
    : server_(server), fd_(fd), peer_(std::move(peer)) {
  if (pn_connection_driver_init(&driver_, nullptr, nullptr) != 0) return;
  driver_ready_ = true;
  pn_transport_t* t = driver_.transport;
  const AmqpOptions& o = server_.options();
  pn_transport_set_server(t);
  pn_transport_require_auth(t, false);
  pn_transport_set_max_frame(t, o.max_frame_bytes);
  pn_transport_set_channel_max(t, o.channel_max);
  pn_transport_set_idle_timeout(t, static_cast<pn_millis_t>(o.idle_timeout.count()));
  install_sasl(t, this);
  if (pn_ssl_domain_t* tls = server_.ssl_domain()) pn_ssl_init(pn_ssl(t), tls, nullptr);
  pn_connection_set_container(driver_.connection, o.container_id.c_str());
}

Connection::~Connection() {
  for (auto& [pn, link] : links_) link->detach();
  links_.clear();
  if (driver_ready_) pn_connection_driver_destroy(&driver_);
  if (fd_ >= 0) ::close(fd_);
}

void Connection::start() {
  if (!driver_ready_) {
    core::log_warn(kLog, "cannot set up a connection from " + peer_ + ": out of memory");
    finish();
    return;
  }
  auto weak = weak_from_this();
  core::Status s = server_.loop().add(fd_, EPOLLIN, [weak](std::uint32_t events) {
    if (auto self = weak.lock()) self->on_events(events);
  });
  if (!s.ok()) {
    core::log_warn(kLog, "cannot watch a connection from " + peer_ + ": " + s.message());
    finish();
    return;
  }
  open_timer_ = server_.loop().add_timer(server_.options().open_timeout, [weak] {
    auto self = weak.lock();
    if (!self || self->opened_) return;
    self->open_timer_ = 0;
    core::log(core::LogLevel::kInfo, kLog,
              "closed a connection from " + self->peer_ + ": no AMQP open within the time-out",
              "open-timeout");
    self->close(kConnectionForced, "no open within the time-out");
  });
  pump();
}

void Connection::on_events(std::uint32_t events) {
  auto self = shared_from_this();
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) read_socket();
  if (events & EPOLLOUT) want_write_ = false;
  pump();
}

void Connection::read_socket() {
  while (!finished_ && !pn_connection_driver_read_closed(&driver_)) {
    pn_rwbytes_t buf = pn_connection_driver_read_buffer(&driver_);
    if (buf.size == 0) return;  // Proton's input buffer is full: read again after processing
    ssize_t n = ::recv(fd_, buf.start, buf.size, 0);
    if (n > 0) {
      pn_connection_driver_read_done(&driver_, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < buf.size) return;
    } else if (n == 0) {
      pn_connection_driver_read_close(&driver_);
    } else if (errno == EINTR) {
      continue;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return;
    } else {
      pn_connection_driver_errorf(&driver_, "amqp:connection:framing-error", "read: %s",
                                  std::strerror(errno));
      pn_connection_driver_read_close(&driver_);
    }
  }
}

void Connection::schedule_pump() {
  if (pump_scheduled_ || finished_) return;
  pump_scheduled_ = true;
  server_.loop().post([weak = weak_from_this()] {
    auto self = weak.lock();
    if (!self) return;
    self->pump_scheduled_ = false;
    self->pump();
  });
}

void Connection::pump() {
  if (finished_) return;
  auto self = shared_from_this();
  for (int round = 0; round < 64; ++round) {
    while (pn_event_t* e = pn_connection_driver_next_event(&driver_)) dispatch(e);
    if (finished_) return;
    write_socket();
    if (!pn_connection_driver_has_event(&driver_)) break;
  }
  if (pn_connection_driver_finished(&driver_)) {
    finish();
    return;
  }
  arm_tick();
  std::uint32_t interest = 0;
  bool can_read = !pn_connection_driver_read_closed(&driver_) &&
                  pn_connection_driver_read_buffer(&driver_).size > 0;
  if (can_read) interest |= EPOLLIN;
  if (want_write_) interest |= EPOLLOUT;
  server_.loop().modify(fd_, interest).ignore();  // fails only for an fd already removed
  // Input Proton could not take yet: process it next turn.
  if (!can_read && !pn_connection_driver_read_closed(&driver_)) schedule_pump();
}

void Connection::write_socket() {
  while (!pn_connection_driver_write_closed(&driver_)) {
    pn_bytes_t out = pn_connection_driver_write_buffer(&driver_);
    if (out.size == 0) return;
    ssize_t n = ::send(fd_, out.start, out.size, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      pn_connection_driver_write_done(&driver_, static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_write_ = true;
      return;
    } else {
      pn_connection_driver_write_close(&driver_);
      pn_connection_driver_read_close(&driver_);
      return;
    }
  }
}

void Connection::arm_tick() {
  std::int64_t now = steady_ms();
  std::int64_t due = pn_transport_tick(driver_.transport, now);
  if (due == tick_due_ && tick_timer_ != 0) return;
  if (tick_timer_ != 0) server_.loop().cancel_timer(tick_timer_);
  tick_timer_ = 0;
  tick_due_ = due;
  if (due <= 0) return;
  tick_timer_ = server_.loop().add_timer(
      std::chrono::milliseconds(std::max<std::int64_t>(due - now, 1)), [weak = weak_from_this()] {
        auto self = weak.lock();
        if (!self) return;
        self->tick_timer_ = 0;
        self->tick_due_ = 0;
        self->pump();
      });
}

void Connection::close(std::string_view condition, const std::string& description) {
  if (finished_) return;
  pn_connection_t* c = driver_.connection;
  if (!pn_condition_is_set(pn_connection_condition(c))) {
    set_condition(pn_connection_condition(c), condition, description);
  }
  pn_connection_close(c);
  if (!opened_) {
    // Before OPEN there is no dialogue to finish politely.
    pn_connection_driver_close(&driver_);
  }
  schedule_pump();
}

void Connection::finish() {
  if (finished_) return;
  finished_ = true;
  auto self = shared_from_this();
  server_.loop().cancel_timer(open_timer_);
  server_.loop().cancel_timer(tick_timer_);
  for (auto& [pn, link] : links_) link->detach();
  links_.clear();
  if (fd_ >= 0) {
    server_.loop().remove(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  server_.on_closed(*this);
}

void Connection::dispatch(pn_event_t* e) {
  switch (pn_event_type(e)) {
    case PN_CONNECTION_REMOTE_OPEN: {
      pn_connection_t* c = pn_event_connection(e);
      const char* container = pn_connection_remote_container(c);
      container_id_ = container ? container : "";
      opened_ = true;
      server_.loop().cancel_timer(open_timer_);
      open_timer_ = 0;
      pn_connection_open(c);
      break;
    }
    case PN_SESSION_REMOTE_OPEN: {
      pn_session_t* s = pn_event_session(e);
      if (pn_session_state(s) & PN_LOCAL_UNINIT) {
        if (sessions_ >= server_.options().max_sessions_per_connection) {
          close(kResourceLimitExceeded,
                "too many sessions on one connection (most " +
                    std::to_string(server_.options().max_sessions_per_connection) + ")");
          break;
        }
        ++sessions_;
        pn_session_open(s);
      }
      break;
    }
    case PN_LINK_REMOTE_OPEN: {
      pn_link_t* l = pn_event_link(e);
      if (pn_link_state(l) & PN_LOCAL_UNINIT) open_link(l);
      break;
    }
    case PN_LINK_FLOW: {
      auto it = links_.find(pn_event_link(e));
      if (it != links_.end()) it->second->on_flow();
      break;
    }
    case PN_DELIVERY: {
      pn_delivery_t* d = pn_event_delivery(e);
      auto it = links_.find(pn_delivery_link(d));
      if (it != links_.end()) {
        auto link = it->second;  // on_delivery may close the link
        link->on_delivery(d);
      }
      break;
    }
    case PN_LINK_REMOTE_CLOSE:
    case PN_LINK_REMOTE_DETACH: {
      pn_link_t* l = pn_event_link(e);
      drop_link(l);
      if (!(pn_link_state(l) & PN_LOCAL_CLOSED)) pn_link_close(l);
      pn_link_free(l);  // Proton keeps it until the detach is written
      break;
    }
    case PN_SESSION_REMOTE_CLOSE: {
      pn_session_t* s = pn_event_session(e);
      drop_links_of(s);
      if (!(pn_session_state(s) & PN_LOCAL_CLOSED)) {
        pn_session_close(s);
        if (sessions_ > 0) --sessions_;
      }
      pn_session_free(s);
      break;
    }
    case PN_CONNECTION_REMOTE_CLOSE: {
      pn_connection_t* c = pn_event_connection(e);
      for (auto& [pn, link] : links_) link->detach();
      links_.clear();
      if (!(pn_connection_state(c) & PN_LOCAL_CLOSED)) pn_connection_close(c);
      break;
    }
    case PN_TRANSPORT_ERROR: {
      pn_condition_t* cond = pn_transport_condition(pn_event_transport(e));
      const char* name = pn_condition_get_name(cond);
      const char* desc = pn_condition_get_description(cond);
      std::string what =
          std::string(name ? name : "error") + (desc ? std::string(": ") + desc : "");
      if (!opened_ || (name && std::string_view(name) != kConnectionForced)) {
        ++server_.mutable_stats().protocol_errors;
      }
      core::log(core::LogLevel::kInfo, kLog, "connection from " + peer_ + " ended: " + what,
                "transport-error");
      break;
    }
    default:
      break;
  }
}

void Connection::open_link(pn_link_t* l) {
  const AmqpOptions& o = server_.options();
  if (links_.size() >= o.max_links_per_connection) {
    close(kResourceLimitExceeded, "too many links on one connection (most " +
                                      std::to_string(o.max_links_per_connection) + ")");
    return;
  }
  bool client_sends = pn_link_is_receiver(l);
  std::string raw =
      terminus_address(client_sends ? pn_link_remote_target(l) : pn_link_remote_source(l));
  pn_terminus_copy(pn_link_source(l), pn_link_remote_source(l));
  pn_terminus_copy(pn_link_target(l), pn_link_remote_target(l));
  pn_link_set_max_message_size(l, o.max_message_bytes);

  std::shared_ptr<Link> link;
  std::string_view refuse;
  std::string why;
  auto device = core::parse_device_address(raw);
  if (raw == "$cbs") {
    if (client_sends) {
      link = std::make_shared<IncomingLink>(*this, l, raw, "", true);
    } else {
      link = std::make_shared<CbsReplyLink>(*this, l, terminus_address(pn_link_remote_target(l)));
    }
  } else if (device) {
    std::string canonical =
        "devices/" + core::url_encode(device->device_id) + "/messages/" +
        (device->endpoint == core::DeviceEndpoint::kEvents ? "events" : "devicebound");
    if (o.require_device_auth && !authorized(device->device_id)) {
      refuse = kUnauthorizedAccess;
      why = "no valid SAS token for device '" + device->device_id + "' on this connection";
    } else if (client_sends && device->endpoint == core::DeviceEndpoint::kEvents) {
      link = std::make_shared<IncomingLink>(*this, l, canonical, device->device_id, false);
    } else if (!client_sends && device->endpoint == core::DeviceEndpoint::kDeviceBound) {
      // Cloud-to-device: from a queue when the broker keeps one under this address (the hub
      // emulator does), else live copies of what arrives for the device (with or without an
      // MQTT-style property bag after it).
      if (server_.consumers() && server_.consumers()->is_queue(canonical)) {
        link = std::make_shared<QueueLink>(*this, l, canonical);
      } else {
        link = std::make_shared<TopicLink>(*this, l, canonical + "/#", container_id_);
      }
    } else {
      refuse = kNotAllowed;
      why = "'" + raw + "' cannot be attached in that direction";
    }
  } else if (client_sends) {
    if (!raw.empty() && !core::is_valid_topic_name(raw)) {
      refuse = kInvalidField;
      why = "'" + raw + "' is not a valid address (no '+', '#' or NUL)";
    } else {
      link = std::make_shared<IncomingLink>(*this, l, raw, "", false);
    }
  } else if (raw.empty()) {
    refuse = kNotAllowed;
    why = "a receiver needs a source address (dynamic sources are not supported)";
  } else if (server_.consumers() && server_.consumers()->is_queue(raw)) {
    link = std::make_shared<QueueLink>(*this, l, raw);
  } else if (core::is_valid_topic_filter(raw)) {
    link = std::make_shared<TopicLink>(*this, l, raw, container_id_);
  } else {
    refuse = kInvalidField;
    why = "'" + raw + "' is neither a queue nor a valid topic filter";
  }
  pn_link_open(l);
  if (!link) {
    core::log(core::LogLevel::kInfo, kLog, "refused a link from " + peer_ + ": " + why,
              "link-refused");
    set_condition(pn_link_condition(l), refuse, why);
    pn_link_close(l);
    return;
  }
  links_.emplace(l, link);
  link->opened();
}

void Connection::drop_link(pn_link_t* l) {
  auto it = links_.find(l);
  if (it == links_.end()) return;
  auto link = std::move(it->second);
  links_.erase(it);
  link->detach();
}

void Connection::drop_links_of(pn_session_t* s) {
  std::vector<pn_link_t*> doomed;
  for (auto& [pn, link] : links_) {
    if (pn_link_session(pn) == s) doomed.push_back(pn);
  }
  for (pn_link_t* l : doomed) drop_link(l);
}

void Connection::close_link(Link& link, std::string_view condition,
                            const std::string& description) {
  pn_link_t* l = link.pn();
  set_condition(pn_link_condition(l), condition, description);
  drop_link(l);  // may destroy `link`
  pn_link_close(l);
  schedule_pump();
}

bool Connection::authorized(const std::string& device_id) const {
  auto it = authorized_.find(device_id);
  return it != authorized_.end() && it->second + iothub::kSasExpirySkewSeconds >= core::now_s();
}

void Connection::authorize(const std::string& device_id, std::int64_t expiry_s) {
  authorized_[device_id] = expiry_s;
  if (!server_.options().require_device_auth) return;
  // As IoT Hub does: a connection whose device token expires (and was not renewed with a new
  // put-token) is closed.
  std::int64_t due_ms = (expiry_s + iothub::kSasExpirySkewSeconds - core::now_s()) * 1000 + 1000;
  server_.loop().add_timer(std::chrono::milliseconds(std::max<std::int64_t>(due_ms, 0)),
                           [weak = weak_from_this(), device_id] {
                             auto self = weak.lock();
                             if (!self || self->finished_ || self->authorized(device_id)) return;
                             core::log(core::LogLevel::kInfo, kLog,
                                       "closing the connection from " + self->peer_ +
                                           ": the SAS token of device '" + device_id + "' expired",
                                       "token-expired");
                             self->close(kUnauthorizedAccess,
                                         "the SAS token of device '" + device_id + "' expired");
                           });
}

core::Result<std::string> Connection::accept_token(std::string_view audience,
                                                   const std::string& token_text) {
  std::string_view aud = audience;
  if (auto scheme = aud.find("://"); scheme != std::string_view::npos)
    aud.remove_prefix(scheme + 3);
  auto resource = iothub::parse_sas_resource(aud);
  if (!resource || resource->device_id.empty()) {
    return core::error(core::Code::kInvalidArgument,
                       "audience '" + std::string(audience) + "' names no device");
  }
  auto token = iothub::parse_sas_token(token_text);
  if (!token) return core::error(core::Code::kUnauthenticated, token.error().message());
  const auto& keys = server_.options().device_keys;
  std::int64_t now = core::now_s();
  bool checked = keys && (!keys->keys_for(resource->device_id, resource->module_id).empty() ||
                          !token->skn.empty());
  if (checked) {
    core::Status s =
        keys->verify(*token, now, resource->host, resource->device_id, resource->module_id);
    if (!s.ok()) return core::error(s);
  } else if (server_.options().require_known_devices) {
    return core::error(core::Code::kUnauthenticated,
                       "device '" + resource->device_id + "' is not registered");
  } else {
    if (token->se + iothub::kSasExpirySkewSeconds < now) {
      return core::error(core::Code::kUnauthenticated, "SAS token expired");
    }
    auto named = iothub::parse_sas_resource(token->sr_raw);
    if (!named || (!named->device_id.empty() && named->device_id != resource->device_id)) {
      return core::error(core::Code::kPermissionDenied,
                         "the token is not for device '" + resource->device_id + "'");
    }
  }
  authorize(resource->device_id, token->se);
  if (const auto& tokens = server_.options().tokens; tokens && resource->module_id.empty()) {
    tokens->put(resource->device_id, {token_text, token->se, checked});
  }
  return resource->device_id;
}

bool Connection::sasl_plain(std::string_view user, std::string_view password) {
  auto at = user.find("@sas.");
  if (at == std::string_view::npos) return true;  // an ordinary user: no IoT Hub rules apply
  std::string device_id(user.substr(0, at));
  // The token's own `sr` names the hub's host; the user name only has the hub's short name.
  auto token = iothub::parse_sas_token(password);
  auto named = token ? iothub::parse_sas_resource(token->sr_raw) : core::error(token.error());
  core::Result<std::string> accepted =
      named ? accept_token(named->host + "/devices/" + device_id, std::string(password))
            : core::error(named.error());
  if (!accepted) {
    ++server_.mutable_stats().cbs_tokens_refused;
    core::log(core::LogLevel::kInfo, kLog,
              "SASL PLAIN refused for '" + std::string(user) + "' from " + peer_ + ": " +
                  accepted.error().message(),
              "sasl-refused");
    return false;
  }
  ++server_.mutable_stats().cbs_tokens_accepted;
  return true;
}

void Connection::send_cbs_reply(const std::string& reply_to, std::string encoded) {
  CbsReplyLink* target = nullptr;
  for (auto& [pn, link] : links_) {
    auto* reply = dynamic_cast<CbsReplyLink*>(link.get());
    if (!reply) continue;
    if (!target || (!reply_to.empty() && reply->reply_address() == reply_to)) target = reply;
  }
  if (!target) {
    core::log(core::LogLevel::kInfo, kLog,
              "dropped a $cbs reply to " + peer_ + ": no receiver link from $cbs", "cbs-no-reply");
    return;
  }
  target->send(std::move(encoded));
  schedule_pump();
}

}  // namespace holdfast::amqp
