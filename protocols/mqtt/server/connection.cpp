#include "protocols/mqtt/server/connection.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/core/message.h"
#include "broker/iothub/device_keys.h"
#include "broker/iothub/mqtt_identity.h"
#include "broker/iothub/property_bag.h"
#include "broker/iothub/sas.h"
#include "broker/iothub/token_store.h"
#include "protocols/mqtt/encoder.h"
#include "protocols/mqtt/server/iothub_policy.h"
#include "protocols/mqtt/server/server.h"
#include "protocols/mqtt/topic.h"

namespace holdfast::mqtt {
namespace {

constexpr std::string_view kLog = "mqtt";

std::string version_label(ProtocolVersion v) {
  return "mqtt/" + std::string(protocol_version_name(v));
}

// The one place where a broker refusal becomes an MQTT 5 reason code.
ReasonCode reason_for(const core::Status& s) {
  switch (s.code()) {
    case core::Code::kOk:
      return ReasonCode::kSuccess;
    case core::Code::kNotFound:
      return ReasonCode::kNoMatchingSubscribers;  // still a success
    case core::Code::kResourceExhausted:
      return ReasonCode::kQuotaExceeded;
    case core::Code::kTooLarge:
      return ReasonCode::kPacketTooLarge;
    case core::Code::kPermissionDenied:
    case core::Code::kUnauthenticated:
      return ReasonCode::kNotAuthorized;
    case core::Code::kInvalidArgument:
      return ReasonCode::kTopicNameInvalid;
    case core::Code::kUnavailable:
      return ReasonCode::kServerUnavailable;
    default:
      return ReasonCode::kImplementationSpecificError;
  }
}

}  // namespace

Connection::Connection(MqttServer& server, int fd, std::string peer,
                       std::shared_ptr<core::TlsContext> tls)
    : server_(server),
      fd_(fd),
      peer_(std::move(peer)),
      decoder_(DecoderOptions{.max_packet_size = server.options().max_packet_bytes}) {
  if (tls) tls_ = std::make_unique<core::TlsSession>(std::move(tls), fd);
}

ssize_t Connection::read_some(char* buf, std::size_t len) {
  return tls_ ? tls_->read(buf, len) : ::recv(fd_, buf, len, 0);
}

ssize_t Connection::write_some(const char* buf, std::size_t len) {
  return tls_ ? tls_->write(buf, len) : ::send(fd_, buf, len, MSG_NOSIGNAL);
}

std::string Connection::io_error(const char* what) const {
  if (tls_ && errno == EPROTO && !tls_->error().empty()) return tls_->error();
  return std::string(what) + " failed: " + std::strerror(errno);
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

const std::string& Connection::client_id() const {
  static const std::string kNone;
  return session_ ? session_->client_id() : kNone;
}

void Connection::start() {
  last_read_ = connected_at_ = std::chrono::steady_clock::now();
  auto weak = weak_from_this();
  core::Status s = server_.loop().add(fd_, EPOLLIN | EPOLLRDHUP, [weak](std::uint32_t events) {
    if (auto self = weak.lock()) self->on_events(events);
  });
  if (!s.ok()) {
    close(false, "cannot watch socket: " + s.message());
    return;
  }
  timer_ = server_.loop().add_timer(server_.options().connect_timeout, [weak] {
    auto self = weak.lock();
    if (self && !self->closed() && !self->connected_) {
      self->close(false, "no CONNECT within the connect timeout");
    }
  });
}

void Connection::on_events(std::uint32_t events) {
  if (closed()) return;
  if (events & EPOLLOUT) {
    // A TLS read that had to write (handshake) goes on once the socket is writable.
    bool read_waits = read_wants_write_;
    read_wants_write_ = false;
    flush();
    if (read_waits && !closed()) on_readable();
  }
  if (closed()) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable();
}

void Connection::on_readable() {
  // TLS keeps decrypted bytes of a record it read whole: read until OpenSSL has none left, or
  // the level-triggered socket would not tell us about them.
  do {
    if (!read_once() || closed()) return;
  } while (tls_ && tls_->pending() && !reading_paused_);
}

bool Connection::read_once() {
  char buf[64 * 1024];
  ssize_t n = read_some(buf, sizeof buf);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      if (tls_ && tls_->wants_write()) {
        read_wants_write_ = true;  // the handshake needs the socket writable
        if (!want_write_) {
          want_write_ = true;
          update_interest();
        }
      }
      return false;
    }
    close(true, io_error("read"));
    return false;
  }
  if (n == 0) {
    close(true, decoder_.at_packet_boundary() ? "connection closed by the client"
                                              : "connection closed in the middle of a packet");
    return false;
  }
  last_read_ = std::chrono::steady_clock::now();
  std::vector<Packet> packets;
  CodecStatus status = decoder_.feed(std::string_view(buf, static_cast<std::size_t>(n)), packets);
  for (auto& packet : packets) {
    handle(packet);
    if (closed()) return false;
  }
  if (!status.ok()) {
    ++server_.mutable_stats().protocol_errors;
    if (!connected_ && status.error == CodecError::kUnsupportedProtocol) {
      Connack refuse;
      refuse.reason_code = ReasonCode::kUnsupportedProtocolVersion;
      encode(refuse, ProtocolVersion::kV311, out_).ignore();
    }
    close(true, "bad packet: " + status.to_string(),
          connected_ ? std::optional(reason_code_for(status.error)) : std::nullopt);
    return false;
  }
  return true;
}

void Connection::send(const Packet& packet) {
  if (closed()) return;
  CodecStatus s = encode(packet, version_, out_);
  if (!s.ok()) {
    core::log_error(kLog, "cannot encode " + std::string(packet_type_name(packet_type(packet))) +
                              " for " + client_id() + ": " + s.to_string());
    return;
  }
  schedule_flush();
}

void Connection::schedule_flush() {
  if (flush_scheduled_ || want_write_) return;  // EPOLLOUT will flush when writable
  flush_scheduled_ = true;
  server_.loop().post([weak = weak_from_this()] {
    if (auto self = weak.lock()) {
      self->flush_scheduled_ = false;
      self->flush();
    }
  });
}

void Connection::flush() {
  std::size_t sent = 0;
  while (sent < out_.size() && !closed()) {
    ssize_t n = write_some(out_.data() + sent, out_.size() - sent);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (n < 0 && errno == EINTR) continue;
    out_.clear();
    close(true, io_error("write"));
    return;
  }
  out_.erase(0, sent);
  // A TLS handshake may need to write while we have nothing to send.
  bool want = !out_.empty() || read_wants_write_;
  if (want != want_write_) {
    want_write_ = want;
    update_interest();
  }
}

void Connection::update_interest() {
  if (closed()) return;
  std::uint32_t events = (reading_paused_ ? 0u : std::uint32_t{EPOLLIN | EPOLLRDHUP}) |
                         (want_write_ ? std::uint32_t{EPOLLOUT} : 0u);
  server_.loop().modify(fd_, events).ignore();  // fails only if the fd is gone: closing anyway
}

void Connection::close(bool abnormal, const std::string& reason,
                       std::optional<ReasonCode> reason_code) {
  if (closed()) return;
  if (reason_code && connected_ && version_ == ProtocolVersion::kV5) {
    Disconnect d;
    d.reason_code = *reason_code;
    encode(d, version_, out_).ignore();
  }
  if (!out_.empty()) {
    // Best effort: a CONNACK refusal or DISCONNECT should reach the client (the socket is
    // non-blocking).
    ssize_t n = write_some(out_.data(), out_.size());
    (void)n;
  }
  server_.loop().remove(fd_);
  ::close(fd_);
  fd_ = -1;
  server_.loop().cancel_timer(timer_);
  server_.loop().cancel_timer(expiry_timer_);
  core::log_debug(kLog, "closed " + peer_ + (client_id().empty() ? "" : " (" + client_id() + ")") +
                            ": " + reason);
  finish_close(abnormal);
}

void Connection::protocol_error(const std::string& reason, ReasonCode code) {
  ++server_.mutable_stats().protocol_errors;
  close(true, reason, code);
}

void Connection::finish_close(bool abnormal) {
  if (abnormal && will_ && connected_) {
    core::Message m;
    m.address = will_->topic;
    m.payload = std::move(will_->payload);
    m.origin = {core::Protocol::kMqtt, client_id(), ""};
    if (will_->retain) server_.retain(m, will_->qos);
    core::PublishOptions options{core::Assurance::kBestEffort,
                                 static_cast<std::uint8_t>(will_->qos), will_->retain};
    server_.ingress().submit(std::move(m), options, [](core::Result<void> r) {
      if (!r && r.error().code() != core::Code::kNotFound) {
        core::log_warn(kLog, "will message not stored: " + r.error().to_string());
      }
    });
  }
  will_.reset();
  if (session_ != nullptr) {
    session_->attach(nullptr);
    server_.release_session(*session_);
    session_ = nullptr;
  }
  // Destroy this object only after the current call stack has unwound.
  server_.loop().post([self = shared_from_this()] { self->server_.on_closed(*self); });
}

void Connection::arm_keep_alive() {
  if (keep_alive_s_ == 0 || closed()) return;
  auto limit = std::chrono::milliseconds(keep_alive_s_ * 1500);  // 1.5 x keep-alive
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(
      last_read_ + limit - std::chrono::steady_clock::now());
  if (wait.count() <= 0) {
    close(true, "keep-alive timeout", ReasonCode::kKeepAliveTimeout);
    return;
  }
  timer_ = server_.loop().add_timer(wait, [weak = weak_from_this()] {
    if (auto self = weak.lock()) self->arm_keep_alive();
  });
}

void Connection::handle(Packet& packet) {
  if (!connected_ && !std::holds_alternative<Connect>(packet)) {
    protocol_error("first packet was not CONNECT", ReasonCode::kProtocolError);
    return;
  }
  std::visit(
      [&](auto& p) {
        using T = std::decay_t<decltype(p)>;
        if constexpr (std::is_same_v<T, Connect>) {
          if (connected_) {
            protocol_error("second CONNECT", ReasonCode::kProtocolError);
          } else {
            handle_connect(p);
          }
        } else if constexpr (std::is_same_v<T, Publish>) {
          handle_publish(p);
        } else if constexpr (std::is_same_v<T, Puback>) {
          session_->on_puback(p.packet_id, p.reason_code);
        } else if constexpr (std::is_same_v<T, Pubrec>) {
          if (is_failure(p.reason_code)) {
            session_->on_pubcomp(p.packet_id);  // v5: the client refused it; the flow ends
          } else {
            session_->on_pubrec(p.packet_id);
          }
        } else if constexpr (std::is_same_v<T, Pubcomp>) {
          session_->on_pubcomp(p.packet_id);
        } else if constexpr (std::is_same_v<T, Pubrel>) {
          Pubcomp comp{p.packet_id};
          if (session_->incoming_qos2.erase(p.packet_id) == 0) {
            comp.reason_code = ReasonCode::kPacketIdentifierNotFound;
          }
          send(comp);
        } else if constexpr (std::is_same_v<T, Subscribe>) {
          handle_subscribe(p);
        } else if constexpr (std::is_same_v<T, Unsubscribe>) {
          handle_unsubscribe(p);
        } else if constexpr (std::is_same_v<T, Pingreq>) {
          send(Pingresp{});
        } else if constexpr (std::is_same_v<T, Disconnect>) {
          bool with_will = p.reason_code == ReasonCode::kDisconnectWithWillMessage;
          if (!with_will) will_.reset();
          close(with_will, "client sent DISCONNECT");
        } else {
          protocol_error(std::string("a client may not send ") +
                             std::string(packet_type_name(packet_type(packet))),
                         ReasonCode::kProtocolError);
        }
      },
      packet);
}

void Connection::handle_connect(Connect& c) {
  version_ = c.version;
  auto refuse = [&](ReasonCode code, const std::string& why) {
    Connack ack;
    ack.reason_code = code;
    send(ack);
    ++server_.mutable_stats().protocol_errors;
    close(false, "CONNECT refused: " + why);
  };
  std::string client_id = c.client_id;
  std::optional<std::string> assigned;
  if (client_id.empty()) {
    if (version_ == ProtocolVersion::kV31 ||
        (version_ == ProtocolVersion::kV311 && !c.clean_start)) {
      refuse(ReasonCode::kClientIdentifierNotValid,
             "empty client id needs clean session (MQTT-3.1.3-8)");
      return;
    }
    client_id = server_.assign_client_id();
    assigned = client_id;
  }
  if (version_ == ProtocolVersion::kV31 && client_id.size() > 23) {
    refuse(ReasonCode::kClientIdentifierNotValid, "MQTT 3.1 client ids are at most 23 bytes");
    return;
  }
  if (auto code = check_iothub_login(c, why_refused_); code) {
    refuse(*code, why_refused_);
    return;
  }
  bool persistent = version_ == ProtocolVersion::kV5
                        ? c.properties.session_expiry_interval.value_or(0) > 0
                        : !c.clean_start;
  bool present = false;
  Session& session = server_.open_session(client_id, c.clean_start, present);
  bool was_persistent = session.persistent;
  session.persistent = persistent;
  if (persistent && !present) {
    session.save_subscriptions();
  } else if (was_persistent && !persistent && server_.persistence()) {
    server_.persistence()->forget_session(client_id);  // MQTT 5: now expires at disconnect
  }
  session.version = version_;
  session_ = &session;
  connected_ = true;
  will_ = std::move(c.will);
  keep_alive_s_ = c.keep_alive;
  server_.loop().cancel_timer(timer_);
  arm_keep_alive();
  if (server_.options().iothub_only) arm_token_expiry();

  Connack ack;
  ack.session_present = present;
  if (version_ == ProtocolVersion::kV5) {
    ack.properties.receive_maximum = server_.options().receive_maximum;
    ack.properties.maximum_packet_size =
        static_cast<std::uint32_t>(server_.options().max_packet_bytes);
    ack.properties.retain_available = true;
    ack.properties.wildcard_subscription_available = true;
    ack.properties.subscription_identifiers_available = false;
    ack.properties.shared_subscription_available = false;
    ack.properties.assigned_client_identifier = assigned;
  }
  send(ack);
  core::log_debug(kLog, "client " + client_id + " connected from " + peer_ + " (" +
                            version_label(version_) + ", " + (persistent ? "persistent" : "clean") +
                            " session, keep-alive " + std::to_string(keep_alive_s_) + "s)");
  session.attach(this);
}

void Connection::arm_token_expiry() {
  // As IoT Hub does: the connection ends when the device's token expires (MQTT cannot renew a
  // token on a live connection). Same skew as the check at login.
  std::int64_t due_ms =
      (token_expiry_s_ + iothub::kSasExpirySkewSeconds) * 1000 - core::now_ms() + 1000;
  expiry_timer_ = server_.loop().add_timer(
      std::chrono::milliseconds(std::max<std::int64_t>(due_ms, 0)), [weak = weak_from_this()] {
        if (auto self = weak.lock(); self && !self->closed()) {
          self->close(true, "the SAS token of device '" + self->device_id_ + "' expired",
                      ReasonCode::kNotAuthorized);
        }
      });
}

std::optional<ReasonCode> Connection::check_iothub_login(const Connect& c, std::string& why) {
  const bool hub = server_.options().iothub_only;
  auto login = c.username ? iothub::parse_mqtt_username(*c.username) : std::nullopt;
  if (!login) {
    if (!hub) return std::nullopt;  // an ordinary login: no IoT Hub conventions apply
    why = "IoT Hub takes only device logins (username {host}/{device}/?api-version=...)";
    return ReasonCode::kNotAuthorized;
  }
  if (c.client_id != iothub::mqtt_client_id_for(*login)) {
    why = "IoT Hub login for '" + login->device_id + "' with client id '" + c.client_id + "'";
    return ReasonCode::kClientIdentifierNotValid;
  }
  if (!c.password) {
    why = "IoT Hub login without a SAS token";
    return ReasonCode::kBadUserNameOrPassword;
  }
  auto token = iothub::parse_sas_token(*c.password);
  if (!token) {
    why = "malformed SAS token: " + token.error().message();
    return ReasonCode::kBadUserNameOrPassword;
  }
  std::int64_t now = core::now_ms() / 1000;
  const auto& keys = server_.options().device_keys;
  core::Status verified;
  bool checked = keys && !keys->keys_for(login->device_id, login->module_id).empty();
  if (!checked && hub) {
    why = "device '" + login->device_id + "' is not registered";
    return ReasonCode::kNotAuthorized;
  }
  if (checked) {
    verified = keys->verify(*token, now, login->host, login->device_id, login->module_id);
  } else if (token->se + 300 < now) {
    // Token passthrough: the gateway cannot check the signature, only that it is still valid.
    verified = {core::Code::kUnauthenticated, "SAS token expired"};
  }
  if (!verified.ok()) {
    why = "device '" + login->device_id + "': " + verified.message();
    return verified.code() == core::Code::kPermissionDenied ? ReasonCode::kNotAuthorized
                                                            : ReasonCode::kBadUserNameOrPassword;
  }
  device_id_ = login->device_id;
  token_expiry_s_ = token->se;
  if (const auto& tokens = server_.options().tokens; tokens && login->module_id.empty()) {
    tokens->put(login->device_id, {*c.password, token->se, checked});
  }
  return std::nullopt;
}

void Connection::handle_publish(Publish& p) {
  if (p.properties.topic_alias || p.topic.empty()) {
    protocol_error("topic aliases are not enabled", ReasonCode::kTopicAliasInvalid);
    return;
  }
  if (p.topic.size() > server_.options().max_topic_bytes) {
    protocol_error("topic longer than max_topic_bytes", ReasonCode::kTopicNameInvalid);
    return;
  }
  if (server_.options().iothub_only) {
    if (auto why = iothub_policy::publish_refusal(p.topic, p.qos, device_id_)) {
      close(true, "IoT Hub closes the connection: " + *why, ReasonCode::kNotAuthorized);
      return;
    }
  }
  auto qos = static_cast<std::uint8_t>(p.qos);
  if (p.qos == QoS::kExactlyOnce && session_->incoming_qos2.contains(p.packet_id)) {
    acks_.push_back({PacketType::kPubrec, p.packet_id, true});  // a DUP of a stored message
    send_acks();
    return;
  }
  core::Message m;
  m.origin = {core::Protocol::kMqtt, session_->client_id(), device_id_};
  if (version_ == ProtocolVersion::kV5) {
    if (p.properties.content_type) m.properties.content_type = *p.properties.content_type;
    if (p.properties.correlation_data) m.properties.correlation_id = *p.properties.correlation_data;
    m.properties.user = std::move(p.properties.user_properties);
  }
  if (auto device = core::parse_device_address(p.topic)) {
    // IoT Hub topic conventions: devices/{id}/messages/events/{property bag}.
    if (!device_id_.empty() && device->device_id != device_id_) {
      refuse_publish(p, ReasonCode::kNotAuthorized,
                     "device '" + device_id_ + "' may not publish as '" + device->device_id + "'");
      return;
    }
    if (device->endpoint == core::DeviceEndpoint::kEvents) {
      if (auto s = iothub::apply_property_bag(device->tail, m.properties); !s.ok()) {
        refuse_publish(p, ReasonCode::kTopicNameInvalid, "bad property bag: " + s.message());
        return;
      }
      m.origin.device_id = device->device_id;
    }
  }
  m.address = std::move(p.topic);
  m.payload = std::move(p.payload);
  ++server_.mutable_stats().messages_in;
  if (p.retain) server_.retain(m, p.qos);
  if (p.qos == QoS::kAtMostOnce) {
    server_.ingress().submit(std::move(m), {core::Assurance::kBestEffort, 0, p.retain},
                             [](core::Result<void>) {});
    return;
  }
  if (p.qos == QoS::kExactlyOnce) session_->incoming_qos2.insert(p.packet_id);
  acks_.push_back(
      {p.qos == QoS::kAtLeastOnce ? PacketType::kPuback : PacketType::kPubrec, p.packet_id});
  std::uint64_t seq = acks_base_ + acks_.size() - 1;
  if (acks_.size() >= server_.options().receive_maximum && !reading_paused_) {
    reading_paused_ = true;
    update_interest();
  }
  server_.ingress().submit(
      std::move(m), {core::Assurance::kDurable, qos, p.retain},
      [weak = weak_from_this(), seq](core::Result<void> result) {
        auto self = weak.lock();
        if (!self || self->closed() || seq < self->acks_base_) return;
        PendingAck& ack = self->acks_[seq - self->acks_base_];
        ack.done = true;
        if (!result && result.error().code() != core::Code::kNotFound) {
          ++self->server_.mutable_stats().refused_publishes;
          if (ack.type == PacketType::kPubrec && self->session_) {
            self->session_->incoming_qos2.erase(ack.packet_id);  // a retry must be stored
          }
          if (self->version_ != ProtocolVersion::kV5) {
            // MQTT 3.1.1 cannot refuse a PUBLISH: close without acknowledging, so the device
            // keeps the message and sends it again later.
            core::log(
                core::LogLevel::kWarn, kLog,
                "publish refused, closing " + self->client_id() + ": " + result.error().to_string(),
                "publish refused");
            self->close(true, "publish refused: " + result.error().to_string());
            return;
          }
          ack.reason = reason_for(result.error());
        } else if (!result) {
          ack.reason = ReasonCode::kNoMatchingSubscribers;
        }
        self->send_acks();
      });
}

void Connection::refuse_publish(const Publish& p, ReasonCode reason, const std::string& why) {
  ++server_.mutable_stats().refused_publishes;
  if (version_ != ProtocolVersion::kV5 || p.qos == QoS::kAtMostOnce) {
    // MQTT 3.1.1 has no negative acknowledgement: IoT Hub closes the connection too.
    close(true, "publish refused: " + why, reason);
    return;
  }
  acks_.push_back({p.qos == QoS::kAtLeastOnce ? PacketType::kPuback : PacketType::kPubrec,
                   p.packet_id, true, reason});
  send_acks();
}

void Connection::send_acks() {
  while (!acks_.empty() && acks_.front().done) {
    const PendingAck& a = acks_.front();
    if (a.type == PacketType::kPuback) {
      Puback ack{a.packet_id};
      ack.reason_code = a.reason;
      send(ack);
    } else {
      Pubrec ack{a.packet_id};
      ack.reason_code = a.reason;
      send(ack);
    }
    acks_.pop_front();
    ++acks_base_;
  }
  if (reading_paused_ && acks_.size() < server_.options().receive_maximum / 2u + 1) {
    reading_paused_ = false;
    update_interest();
    if (tls_ && tls_->pending()) {
      // Decrypted bytes already read from the socket: epoll will not report them.
      server_.loop().post([weak = weak_from_this()] {
        if (auto self = weak.lock(); self && !self->closed()) self->on_readable();
      });
    }
  }
}

void Connection::handle_subscribe(Subscribe& s) {
  Suback ack;
  ack.packet_id = s.packet_id;
  std::vector<std::pair<std::string, QoS>> retained_for;
  const bool hub = server_.options().iothub_only;
  const std::size_t max_subscriptions =
      hub ? iothub_policy::kMaxSubscriptions : server_.options().max_subscriptions_per_client;
  for (const Subscription& sub : s.subscriptions) {
    ReasonCode code;
    bool known = session_->subscriptions.contains(sub.filter);
    if (!is_valid_topic_filter(sub.filter)) {
      code = ReasonCode::kTopicFilterInvalid;
    } else if (is_shared_subscription(sub.filter)) {
      code = ReasonCode::kSharedSubscriptionsNotSupported;
    } else if (!known && session_->subscriptions.size() >= max_subscriptions) {
      code = ReasonCode::kQuotaExceeded;
    } else if (hub && !iothub_policy::subscribe_grant(sub.filter, sub.qos, device_id_)) {
      code = ReasonCode::kNotAuthorized;
    } else {
      QoS qos = hub ? *iothub_policy::subscribe_grant(sub.filter, sub.qos, device_id_) : sub.qos;
      core::SubscriptionOptions options{static_cast<std::uint8_t>(qos), sub.no_local};
      session_->subscriptions[sub.filter] = options;
      server_.registry().subscribe(sub.filter, session_, options);
      code = static_cast<ReasonCode>(qos);  // GrantedQos0/1/2
      if (sub.retain_handling == RetainHandling::kSendAtSubscribe ||
          (sub.retain_handling == RetainHandling::kSendAtSubscribeIfNew && !known)) {
        retained_for.emplace_back(sub.filter, sub.qos);
      }
    }
    ack.reason_codes.push_back(code);
  }
  send(ack);
  session_->save_subscriptions();
  for (const auto& [filter, qos] : retained_for) server_.send_retained(*session_, filter, qos);
}

void Connection::handle_unsubscribe(Unsubscribe& u) {
  Unsuback ack;
  ack.packet_id = u.packet_id;
  for (const std::string& filter : u.filters) {
    bool existed = session_->subscriptions.erase(filter) > 0;
    if (existed) server_.registry().unsubscribe(filter, session_);
    ack.reason_codes.push_back(existed ? ReasonCode::kSuccess : ReasonCode::kNoSubscriptionExisted);
  }
  send(ack);
  session_->save_subscriptions();
}

}  // namespace holdfast::mqtt
