#include "bridge/amqp_hub_connection.h"

#include <netdb.h>
#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string_view>

#include "broker/core/log.h"
#include "protocols/amqp/message_codec.h"

namespace holdfast::bridge {
namespace {

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

std::int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

HubOutcome outcome_of(pn_condition_t* c) {
  HubOutcome o;
  if (c && pn_condition_is_set(c)) {
    const char* name = pn_condition_get_name(c);
    const char* desc = pn_condition_get_description(c);
    o.condition = name ? name : "";
    o.description = desc ? desc : "";
  }
  return o;
}

void put_string(pn_data_t* d, const std::string& s) {
  pn_data_put_string(d, pn_bytes(s.size(), s.data()));
}

// A batch's delivery-tag: 'B' and the 8 bytes of its first message's tag.
constexpr char kBatchMark = 'B';
constexpr std::size_t kBatchTagSize = 1 + sizeof(std::uint64_t);

std::optional<std::uint32_t> format_of(std::string_view tag) {
  if (tag.size() == kBatchTagSize && tag[0] == kBatchMark) return amqp::kBatchMessageFormat;
  return std::nullopt;
}

// Room left in a frame for the transfer performative and the encodings around the sections.
constexpr std::size_t kFrameOverhead = 512;
// Output waiting for the socket before Proton's output is left where it is.
constexpr std::size_t kMaxPendingOut = 1 << 20;


}  // namespace

AmqpHubConnection::AmqpHubConnection(core::EventLoop& loop, HubConnectionOptions options,
                                     Listener& listener)
    : loop_(loop), options_(std::move(options)), listener_(listener), formatter_(format_of) {}

AmqpHubConnection::~AmqpHubConnection() {
  *alive_ = false;
  loop_.cancel_timer(tick_timer_);
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
  }
  if (driver_ready_) pn_connection_driver_destroy(&driver_);
}

void AmqpHubConnection::fail(const core::Status& why) {
  if (failed_) return;
  failed_ = true;
  if (fd_ >= 0) {
    loop_.remove(fd_);
    ::close(fd_);
    fd_ = -1;
  }
  loop_.cancel_timer(tick_timer_);
  tick_timer_ = 0;
  // Reported from the loop, so the listener may destroy this object in its callback.
  loop_.post([alive = std::weak_ptr<bool>(alive_), this, why] {
    if (alive.lock()) listener_.on_disconnected(why);
  });
}

void AmqpHubConnection::connect() {
  std::string where = options_.host + ":" + std::to_string(options_.port);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc =
          getaddrinfo(options_.host.c_str(), std::to_string(options_.port).c_str(), &hints, &found);
      rc != 0) {
    fail({core::Code::kUnavailable, "cannot resolve " + options_.host + ": " + gai_strerror(rc)});
    return;
  }
  fd_ = ::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int rc = fd_ < 0 ? -1 : ::connect(fd_, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0 && errno != EINPROGRESS) {
    fail({core::Code::kUnavailable, "cannot connect to " + where + ": " + std::strerror(errno)});
    return;
  }
  if (pn_connection_driver_init(&driver_, nullptr, nullptr) != 0) {
    fail({core::Code::kInternal, "cannot set up an AMQP connection"});
    return;
  }
  driver_ready_ = true;
  pn_transport_t* t = driver_.transport;
  pn_transport_set_idle_timeout(t, options_.idle_timeout_ms);
  if (options_.tls) {
    auto context = core::TlsContext::client(options_.ca_file);
    if (!context) {
      fail(context.error());
      return;
    }
    tls_ = std::make_unique<core::TlsSession>(std::move(*context), fd_, options_.host);
  }
  pn_sasl_allowed_mechs(pn_sasl(t), "ANONYMOUS");
  pn_connection_t* c = driver_.connection;
  pn_connection_set_container(c, options_.container_id.c_str());
  pn_connection_set_hostname(c, options_.host.c_str());
  pn_connection_open(c);
  session_ = pn_session(c);
  pn_session_open(session_);
  cbs_out_ = pn_sender(session_, "$cbs-sender");
  pn_terminus_set_address(pn_link_target(cbs_out_), "$cbs");
  pn_link_open(cbs_out_);
  cbs_in_ = pn_receiver(session_, "$cbs-receiver");
  pn_terminus_set_address(pn_link_source(cbs_in_), "$cbs");
  pn_terminus_set_address(pn_link_target(cbs_in_), "$cbs-receiver");
  pn_link_open(cbs_in_);
  pn_link_flow(cbs_in_, 100);
  auto alive = std::weak_ptr<bool>(alive_);
  core::Status s = loop_.add(fd_, EPOLLOUT, [alive, this](std::uint32_t events) {
    if (alive.lock()) on_events(events);
  });
  if (!s.ok()) fail(s);
}

void AmqpHubConnection::on_events(std::uint32_t events) {
  if (failed_) return;
  if (connecting_) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      fail({core::Code::kUnavailable, "cannot connect to " + options_.host + ":" +
                                          std::to_string(options_.port) + ": " +
                                          std::strerror(err)});
      return;
    }
    connecting_ = false;
  }
  // With TLS, a read may wait for the socket to be writable (and decrypted bytes may wait
  // inside OpenSSL): try on every event.
  if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) || tls_) read_socket();
  if (failed_) return;
  if (events & EPOLLOUT) want_write_ = false;
  pump();
}

void AmqpHubConnection::read_socket() {
  while (!failed_) {
    pn_rwbytes_t buf = pn_connection_driver_read_buffer(&driver_);
    if (buf.size == 0) break;
    ssize_t n = tls_ ? tls_->read(buf.start, buf.size) : ::recv(fd_, buf.start, buf.size, 0);
    if (n > 0) {
      pn_connection_driver_read_done(&driver_, static_cast<std::size_t>(n));
      if (!tls_ && static_cast<std::size_t>(n) < buf.size) break;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (tls_ && tls_->wants_write()) want_write_ = true;
      break;
    } else if (n < 0 && errno == EPROTO && tls_) {
      fail({core::Code::kUnavailable, "TLS with " + options_.host + ": " + tls_->error()});
      break;
    } else {
      pn_connection_driver_read_close(&driver_);
      break;
    }
  }
}

bool AmqpHubConnection::write_socket() {
  while (!pn_connection_driver_write_closed(&driver_) && out_.size() < kMaxPendingOut) {
    pn_bytes_t out = pn_connection_driver_write_buffer(&driver_);
    if (out.size == 0) break;
    core::Status s = formatter_.feed(std::string_view(out.start, out.size), out_);
    pn_connection_driver_write_done(&driver_, out.size);
    if (!s.ok()) {
      fail({core::Code::kInternal, "AMQP output to " + options_.host + ": " + s.message()});
      return false;
    }
  }
  while (out_written_ < out_.size()) {
    const char* p = out_.data() + out_written_;
    std::size_t len = out_.size() - out_written_;
    ssize_t n = tls_ ? tls_->write(p, len) : ::send(fd_, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      out_written_ += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      want_write_ = true;
      break;
    } else if (n < 0 && errno == EPROTO && tls_) {
      fail({core::Code::kUnavailable, "TLS with " + options_.host + ": " + tls_->error()});
      return false;
    } else {
      fail({core::Code::kUnavailable, "connection to " + options_.host + " lost: " +
                                          std::strerror(errno)});
      return false;
    }
  }
  if (out_written_ == out_.size()) {
    out_.clear();
    out_written_ = 0;
  }
  return true;
}

void AmqpHubConnection::pump() {
  if (failed_ || connecting_) return;
  for (int round = 0; round < 64 && !failed_; ++round) {
    while (pn_event_t* e = pn_connection_driver_next_event(&driver_)) {
      dispatch(e);
      if (failed_) return;
    }
    if (!write_socket()) return;
    if (!pn_connection_driver_has_event(&driver_)) break;
  }
  if (pn_connection_driver_finished(&driver_)) {
    HubOutcome why = outcome_of(pn_transport_condition(driver_.transport));
    HubOutcome remote = outcome_of(pn_connection_remote_condition(driver_.connection));
    if (why.condition.empty()) why = remote;
    fail({core::Code::kUnavailable,
          "connection to " + options_.host + " ended" +
              (why.condition.empty() ? "" : ": " + why.condition + " " + why.description)});
    return;
  }
  arm_tick();
  std::uint32_t interest = EPOLLIN;
  if (want_write_) interest |= EPOLLOUT;
  loop_.modify(fd_, interest).ignore();  // fails only when the fd is gone, i.e. we failed
  if (tls_ && tls_->pending() && !read_scheduled_ &&
      pn_connection_driver_read_buffer(&driver_).size > 0) {
    // Decrypted bytes wait inside OpenSSL (Proton's buffer was full): epoll will not say so.
    read_scheduled_ = true;
    loop_.post([alive = std::weak_ptr<bool>(alive_), this] {
      if (!alive.lock()) return;
      read_scheduled_ = false;
      if (failed_) return;
      read_socket();
      pump();
    });
  }
}

void AmqpHubConnection::arm_tick() {
  std::int64_t now = steady_ms();
  std::int64_t due = pn_transport_tick(driver_.transport, now);
  loop_.cancel_timer(tick_timer_);
  tick_timer_ = 0;
  if (due <= 0) return;
  tick_timer_ = loop_.add_timer(std::chrono::milliseconds(std::max<std::int64_t>(due - now, 1)),
                                [alive = std::weak_ptr<bool>(alive_), this] {
                                  if (!alive.lock()) return;
                                  tick_timer_ = 0;
                                  pump();
                                });
}

AmqpHubConnection::Device* AmqpHubConnection::device_of_c2d(pn_link_t* link) {
  auto it = by_link_.find(link);
  return it != by_link_.end() && it->second->c2d == link ? it->second : nullptr;
}

AmqpHubConnection::Device* AmqpHubConnection::device_of(pn_link_t* link) {
  auto it = by_link_.find(link);
  return it != by_link_.end() && it->second->link == link ? it->second : nullptr;
}

void AmqpHubConnection::dispatch(pn_event_t* e) {
  switch (pn_event_type(e)) {
    case PN_CONNECTION_REMOTE_OPEN:
      listener_.on_connected();
      break;
    case PN_LINK_REMOTE_OPEN:
      break;
    case PN_LINK_FLOW: {
      pn_link_t* l = pn_event_link(e);
      if (l == cbs_out_) {
        send_put_tokens();
      } else if (Device* d = device_of(l); d && pn_link_credit(l) > 0) {
        if (!d->ready) {
          d->ready = true;
          listener_.on_device_ready(d->id);
        } else {
          listener_.on_credit(d->id);
        }
      }
      break;
    }
    case PN_DELIVERY: {
      pn_delivery_t* dl = pn_event_delivery(e);
      pn_link_t* l = pn_delivery_link(dl);
      if (l == cbs_in_) {
        if (!pn_delivery_partial(dl)) on_cbs_reply(dl);
      } else if (Device* c = device_of_c2d(l)) {
        if (dl != pn_link_current(l) || pn_delivery_partial(dl)) break;
        std::string bytes(pn_delivery_pending(dl), '\0');
        if (!bytes.empty()) pn_link_recv(l, bytes.data(), bytes.size());
        pn_link_advance(l);
        std::uint64_t id = next_c2d_id_++;
        c2d_unsettled_[id] = dl;
        std::string device = c->id;
        auto decoded = amqp::decode_message(bytes);
        if (!decoded) {
          core::log(core::LogLevel::kWarn, "bridge",
                    "undecodable cloud-to-device message for '" + device + "': rejected",
                    "c2d-undecodable");
          settle_c2d(id, C2dOutcome::kReject);
          break;
        }
        listener_.on_c2d(device, id, amqp::to_core_message(std::move(*decoded)));
      } else if (l == cbs_out_) {
        if (pn_delivery_remote_state(dl) != 0) pn_delivery_settle(dl);
      } else if (Device* d = device_of(l)) {
        std::uint64_t state = pn_delivery_remote_state(dl);
        if (state == 0 && !pn_delivery_settled(dl)) break;
        auto it = d->unsettled.find(dl);
        if (it == d->unsettled.end()) break;
        std::uint64_t tag = it->second;
        d->unsettled.erase(it);
        HubOutcome o;
        o.accepted = state == PN_ACCEPTED;
        if (!o.accepted) {
          HubOutcome c = outcome_of(pn_disposition_condition(pn_delivery_remote(dl)));
          o.condition =
              c.condition.empty()
                  ? (state == PN_RELEASED || state == PN_MODIFIED ? "released" : "rejected")
                  : c.condition;
          o.description = c.description;
        }
        pn_delivery_settle(dl);
        std::string id = d->id;
        listener_.on_settled(id, tag, o);
      }
      break;
    }
    case PN_LINK_REMOTE_CLOSE: {
      pn_link_t* l = pn_event_link(e);
      if (Device* c = device_of_c2d(l)) {
        by_link_.erase(l);
        c->c2d = nullptr;  // the events link carries on; C2D for this device stops
        pn_link_close(l);
        break;
      }
      if (Device* d = device_of(l)) {
        HubOutcome why = outcome_of(pn_link_remote_condition(l));
        std::string id = d->id;
        by_link_.erase(l);
        if (d->c2d) by_link_.erase(d->c2d);
        devices_.erase(id);  // its unsettled transfers are unknown now: the forwarder resends
        pn_link_close(l);
        listener_.on_device_refused(id, why);
      } else {
        HubOutcome why = outcome_of(pn_link_remote_condition(l));
        pn_connection_close(driver_.connection);
        fail({core::Code::kUnavailable, "the hub closed its $cbs link: " + why.condition});
      }
      break;
    }
    case PN_CONNECTION_REMOTE_CLOSE:
      pn_connection_close(driver_.connection);
      break;
    default:
      break;
  }
}

void AmqpHubConnection::open_device(const std::string& device, const std::string& token,
                                bool receive_c2d) {
  if (failed_) return;
  tokens_to_send_[device] = token;
  wants_c2d_[device] = receive_c2d;
  send_put_tokens();
  pump();
}

void AmqpHubConnection::send_put_tokens() {
  while (!tokens_to_send_.empty() && pn_link_credit(cbs_out_) > 0) {
    auto it = tokens_to_send_.begin();
    MessagePtr m(pn_message());
    std::uint64_t id = next_cbs_id_++;
    pn_msgid_t msgid{};
    msgid.type = PN_ULONG;
    msgid.u.as_ulong = id;
    pn_message_set_id(m.get(), msgid);
    pn_message_set_reply_to(m.get(), "$cbs-receiver");
    pn_data_t* props = pn_message_properties(m.get());
    pn_data_put_map(props);
    pn_data_enter(props);
    put_string(props, "operation");
    put_string(props, "put-token");
    put_string(props, "type");
    put_string(props, "servicebus.windows.net:sastoken");
    put_string(props, "name");
    put_string(props, options_.host + "/devices/" + it->first);
    pn_data_exit(props);
    put_string(pn_message_body(m.get()), it->second);
    pn_rwbytes_t buf{0, nullptr};
    ssize_t n = pn_message_encode2(m.get(), &buf);
    std::string tag = "cbs" + std::to_string(id);
    pn_delivery(cbs_out_, pn_dtag(tag.data(), tag.size()));
    if (n > 0) pn_link_send(cbs_out_, buf.start, static_cast<std::size_t>(n));
    pn_link_advance(cbs_out_);
    std::free(buf.start);
    cbs_pending_[id] = it->first;
    tokens_to_send_.erase(it);
  }
}

void AmqpHubConnection::on_cbs_reply(pn_delivery_t* dl) {
  std::string bytes(pn_delivery_pending(dl), '\0');
  pn_link_recv(cbs_in_, bytes.data(), bytes.size());
  pn_link_advance(cbs_in_);
  pn_delivery_update(dl, PN_ACCEPTED);
  pn_delivery_settle(dl);
  pn_link_flow(cbs_in_, 1);
  MessagePtr m(pn_message());
  if (pn_message_decode(m.get(), bytes.data(), bytes.size()) != 0) return;
  pn_msgid_t cid = pn_message_get_correlation_id(m.get());
  if (cid.type != PN_ULONG) return;
  auto it = cbs_pending_.find(cid.u.as_ulong);
  if (it == cbs_pending_.end()) return;
  std::string device = it->second;
  cbs_pending_.erase(it);
  int status = 0;
  std::string description;
  pn_data_t* props = pn_message_properties(m.get());
  pn_data_rewind(props);
  if (pn_data_next(props) && pn_data_type(props) == PN_MAP) {
    std::size_t n = pn_data_get_map(props);
    pn_data_enter(props);
    for (std::size_t i = 0; i + 1 < n; i += 2) {
      pn_data_next(props);
      auto key = pn_data_get_string(props);
      std::string k(key.start, key.size);
      pn_data_next(props);
      if (k == "status-code" && pn_data_type(props) == PN_INT) status = pn_data_get_int(props);
      if (k == "status-description" && pn_data_type(props) == PN_STRING) {
        auto v = pn_data_get_string(props);
        description.assign(v.start, v.size);
      }
    }
    pn_data_exit(props);
  }
  if (status != 200 && status != 202) {
    listener_.on_device_refused(device, {false, "cbs:" + std::to_string(status), description});
    return;
  }
  if (devices_.contains(device)) return;  // a renewal
  auto d = std::make_unique<Device>();
  d->id = device;
  std::string address = "amqps://" + options_.host + "/devices/" + device + "/messages/events";
  d->link = pn_sender(session_, ("events-" + device).c_str());
  pn_terminus_set_address(pn_link_target(d->link), address.c_str());
  pn_link_set_snd_settle_mode(d->link, PN_SND_UNSETTLED);
  pn_link_open(d->link);
  if (wants_c2d_[device]) {
    std::string source =
        "amqps://" + options_.host + "/devices/" + device + "/messages/devicebound";
    d->c2d = pn_receiver(session_, ("c2d-" + device).c_str());
    pn_terminus_set_address(pn_link_source(d->c2d), source.c_str());
    pn_terminus_set_address(pn_link_target(d->c2d), ("c2d-" + device).c_str());
    pn_link_set_rcv_settle_mode(d->c2d, PN_RCV_FIRST);
    pn_link_open(d->c2d);
    pn_link_flow(d->c2d, 10);
  }
  by_link_[d->link] = d.get();
  if (d->c2d) by_link_[d->c2d] = d.get();
  devices_.emplace(device, std::move(d));
}

void AmqpHubConnection::settle_c2d(std::uint64_t id, C2dOutcome outcome) {
  auto it = c2d_unsettled_.find(id);
  if (failed_ || it == c2d_unsettled_.end()) return;
  pn_delivery_t* dl = it->second;
  c2d_unsettled_.erase(it);
  pn_link_t* l = pn_delivery_link(dl);
  pn_delivery_update(dl, outcome == C2dOutcome::kComplete  ? PN_ACCEPTED
                         : outcome == C2dOutcome::kAbandon ? PN_RELEASED
                                                           : PN_REJECTED);
  pn_delivery_settle(dl);
  if (device_of_c2d(l)) pn_link_flow(l, 1);
  schedule_pump();
}

int AmqpHubConnection::credit(const std::string& device) const {
  auto it = devices_.find(device);
  if (it == devices_.end() || !it->second->ready) return 0;
  return std::max(0, pn_link_credit(it->second->link));
}

HubConnection::SendResult AmqpHubConnection::send(const std::string& device,
                                                  const core::Message& message, std::uint64_t tag,
                                                  std::string& why) {
  auto it = devices_.find(device);
  if (failed_ || it == devices_.end() || !it->second->ready ||
      pn_link_credit(it->second->link) <= 0) {
    return SendResult::kBusy;
  }
  std::string encoded = amqp::encode_message(message, 0);
  std::uint64_t max = pn_link_remote_max_message_size(it->second->link);
  if (max > 0 && encoded.size() > max) {
    // The hub would detach the link over it.
    why = "amqp:link:message-size-exceeded: " + std::to_string(encoded.size()) +
          " bytes, the hub takes at most " + std::to_string(max);
    return SendResult::kTooLarge;
  }
  char t[sizeof tag];
  std::memcpy(t, &tag, sizeof tag);
  pn_delivery_t* dl = pn_delivery(it->second->link, pn_dtag(t, sizeof t));
  pn_link_send(it->second->link, encoded.data(), encoded.size());
  pn_link_advance(it->second->link);
  it->second->unsettled.emplace(dl, tag);
  schedule_pump();
  return SendResult::kSent;
}

std::size_t AmqpHubConnection::send_batch(const std::string& device,
                                          const std::vector<const core::Message*>& messages,
                                          std::uint64_t tag) {
  auto it = devices_.find(device);
  if (failed_ || messages.size() < 2 || it == devices_.end() || !it->second->ready ||
      pn_link_credit(it->second->link) <= 0) {
    return 0;
  }
  // One frame, within the link's max-message-size (IoT Hub: 256 KiB for a batch too).
  std::uint64_t limit = pn_link_remote_max_message_size(it->second->link);
  if (limit == 0) limit = 256 * 1024;
  std::uint32_t frame = pn_transport_get_remote_max_frame(driver_.transport);
  if (frame != 0) {
    limit = std::min<std::uint64_t>(limit, frame - std::min<std::uint32_t>(frame, kFrameOverhead));
  }
  std::string body;
  std::size_t packed = 0;
  for (const core::Message* m : messages) {
    std::string encoded = amqp::encode_message(*m, 0);
    if (body.size() + encoded.size() + 8 > limit) break;
    amqp::append_data_section(body, encoded);
    ++packed;
  }
  if (packed < 2) return 0;
  char t[kBatchTagSize];
  t[0] = kBatchMark;
  std::memcpy(t + 1, &tag, sizeof tag);
  pn_delivery_t* dl = pn_delivery(it->second->link, pn_dtag(t, sizeof t));
  pn_link_send(it->second->link, body.data(), body.size());
  pn_link_advance(it->second->link);
  it->second->unsettled.emplace(dl, tag);
  schedule_pump();
  return packed;
}

void AmqpHubConnection::schedule_pump() {
  if (pump_scheduled_) return;
  pump_scheduled_ = true;
  loop_.post([alive = std::weak_ptr<bool>(alive_), this] {
    if (!alive.lock()) return;
    pump_scheduled_ = false;
    pump();
  });
}

void AmqpHubConnection::close() {
  if (failed_ || !driver_ready_) return;
  pn_connection_close(driver_.connection);
  pump();
}

}  // namespace holdfast::bridge
