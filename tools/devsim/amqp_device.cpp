#include "tools/devsim/amqp_device.h"

#include <poll.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/sasl.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <iostream>
#include <map>
#include <memory>
#include <unordered_map>

#include "broker/iothub/base64.h"
#include "broker/iothub/sha256.h"
#include "tools/devsim/amqp_wire.h"

namespace holdfast::devsim {
namespace {

using Clock = std::chrono::steady_clock;
constexpr const char* kUnauthorized = "amqp:unauthorized-access";

std::string condition_text(pn_condition_t* c) {
  if (!pn_condition_is_set(c)) return "no error";
  const char* desc = pn_condition_get_description(c);
  return std::string(pn_condition_get_name(c)) + (desc && *desc ? std::string(": ") + desc : "");
}

struct Device {
  Device(const CommonOptions& o, const Prepared& p, std::size_t index)
      : id(p.devices[index].id), token(p.devices[index].token), payloads(o, p.tea, index) {}

  std::string id;
  std::string token;
  PayloadSource payloads;
  pn_link_t* sender = nullptr;
  pn_link_t* c2d = nullptr;
  bool ready = false;  // the sender is attached: pacing and --duration count from here
  Clock::time_point ready_at;
  bool failed = false;
  int failure_status = kExitOk;
  std::string error;
  std::uint64_t next_seq = 0;
  std::size_t in_flight = 0;  // unsettled transfers
  std::uint64_t acked = 0, refused = 0, c2d_received = 0;

  void fail(int status, std::string why) {
    if (failed) return;
    failed = true;
    failure_status = status;
    error = std::move(why);
  }
};

class Run {
 public:
  Run(const CommonOptions& o, const Prepared& p, const AmqpDeviceOptions& a, Output& out)
      : o_(o), p_(p), a_(a), out_(out) {}

  int run() {
    start_ = Clock::now();
    for (std::size_t i = 0; i < p_.devices.size(); ++i) {
      devices_.push_back(std::make_unique<Device>(o_, p_, i));
    }
    std::uint16_t port = o_.port ? o_.port : 5672;
    std::string why;
    int fd = connect_tcp(o_.host, port, why);
    if (fd < 0) {
      failure_ = "cannot connect to " + o_.host + ":" + std::to_string(port) + ": " + why;
      return report();
    }
    pn_connection_driver_t driver;
    pn_connection_driver_init(&driver, nullptr, nullptr);
    open(driver);
    drive(driver, fd);
    if (failure_.empty()) {
      pn_connection_close(driver.connection);
      while (pn_connection_driver_next_event(&driver)) {
      }
      for (pn_bytes_t b = pn_connection_driver_write_buffer(&driver); b.size > 0;
           b = pn_connection_driver_write_buffer(&driver)) {
        ssize_t n = ::send(fd, b.start, b.size, MSG_NOSIGNAL);
        if (n <= 0) break;
        pn_connection_driver_write_done(&driver, static_cast<std::size_t>(n));
      }
    } else if (pn_condition_t* c = pn_transport_condition(driver.transport);
               pn_condition_is_set(c)) {
      failure_ += " (" + condition_text(c) + ")";
    }
    pn_connection_driver_destroy(&driver);
    ::close(fd);
    return report();
  }

 private:
  void open(pn_connection_driver_t& driver) {
    if (a_.iothub) {
      use_mssbcbs(driver.transport);
    } else {
      pn_sasl_allowed_mechs(pn_sasl(driver.transport), "ANONYMOUS");
    }
    std::string container = "holdfast-devsim-" + std::to_string(::getpid());
    pn_connection_set_container(driver.connection, container.c_str());
    std::string hostname = a_.iothub ? o_.hub_host : o_.host;
    pn_connection_set_hostname(driver.connection, hostname.c_str());
    pn_connection_open(driver.connection);
    session_ = pn_session(driver.connection);
    pn_session_open(session_);
    if (!a_.iothub) {
      for (std::size_t i = 0; i < devices_.size(); ++i) {
        attach(i, expand_address(a_.address, devices_[i]->id));
      }
      return;
    }
    cbs_out_ = pn_sender(session_, "cbs-sender");
    pn_terminus_set_address(pn_link_target(cbs_out_), "$cbs");
    pn_terminus_set_address(pn_link_source(cbs_out_), "cbs-sender");
    pn_link_open(cbs_out_);
    cbs_in_ = pn_receiver(session_, "cbs-receiver");
    pn_terminus_set_address(pn_link_source(cbs_in_), "$cbs");
    pn_terminus_set_address(pn_link_target(cbs_in_), "cbs-receiver");
    pn_link_open(cbs_in_);
    pn_link_flow(cbs_in_, static_cast<int>(std::min<std::size_t>(devices_.size(), 100)));
  }

  // The device's sender (and, with c2d, its devicebound receiver).
  void attach(std::size_t i, const std::string& address) {
    Device& d = *devices_[i];
    d.sender = pn_sender(session_, ("events-" + d.id).c_str());
    pn_terminus_set_address(pn_link_target(d.sender), address.c_str());
    pn_link_set_snd_settle_mode(d.sender, PN_SND_UNSETTLED);
    pn_link_open(d.sender);
    links_[d.sender] = i;
    if (a_.c2d && a_.iothub) {
      std::string source = "amqps://" + o_.hub_host + "/devices/" + d.id + "/messages/devicebound";
      d.c2d = pn_receiver(session_, ("devicebound-" + d.id).c_str());
      pn_terminus_set_address(pn_link_source(d.c2d), source.c_str());
      pn_link_set_rcv_settle_mode(d.c2d, PN_RCV_FIRST);
      pn_link_open(d.c2d);
      pn_link_flow(d.c2d, 10);
      links_[d.c2d] = i;
    }
  }

  // The I/O loop: events, sends, writes, then a wait for input, the next due message, the
  // transport's next tick or the timeout.
  void drive(pn_connection_driver_t& driver, int fd) {
    last_progress_ = Clock::now();
    auto timeout = std::chrono::milliseconds(o_.timeout_ms);
    while (failure_.empty()) {
      while (pn_event_t* e = pn_connection_driver_next_event(&driver)) handle(e);
      if (!failure_.empty()) break;
      auto now = Clock::now();
      auto wake = pump(now);
      for (pn_bytes_t b = pn_connection_driver_write_buffer(&driver); b.size > 0;
           b = pn_connection_driver_write_buffer(&driver)) {
        ssize_t n = ::send(fd, b.start, b.size, MSG_NOSIGNAL);
        if (n <= 0) {
          pn_connection_driver_write_close(&driver);
          break;
        }
        pn_connection_driver_write_done(&driver, static_cast<std::size_t>(n));
      }
      if (pn_connection_driver_finished(&driver)) {
        if (failure_.empty()) failure_ = "the gateway closed the connection";
        break;
      }
      if (pn_connection_driver_has_event(&driver)) continue;
      if (finished(now)) break;
      if (!awaiting()) last_progress_ = now;  // idle by choice (pacing, listening): no timeout
      if (now - last_progress_ > timeout) {
        failure_ = "no answer from the gateway for " + std::to_string(o_.timeout_ms) + " ms";
        break;
      }
      auto ms_now = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch());
      std::int64_t tick = pn_transport_tick(driver.transport, ms_now.count());
      if (tick > 0) wake = std::min(wake, Clock::time_point(std::chrono::milliseconds(tick)));
      wake = std::min({wake, now + std::chrono::milliseconds(100), last_progress_ + timeout});
      auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
      pollfd pfd{fd, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(std::max<std::int64_t>(wait_ms, 0))) <= 0) continue;
      pn_rwbytes_t in = pn_connection_driver_read_buffer(&driver);
      if (in.size == 0) continue;
      ssize_t n = ::recv(fd, in.start, in.size, 0);
      if (n > 0) {
        pn_connection_driver_read_done(&driver, static_cast<std::size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        pn_connection_driver_read_close(&driver);
      }
    }
  }

  void handle(pn_event_t* e) {
    switch (pn_event_type(e)) {
      case PN_CONNECTION_REMOTE_OPEN:
        last_progress_ = Clock::now();
        break;
      case PN_LINK_REMOTE_OPEN: {
        last_progress_ = Clock::now();
        pn_link_t* l = pn_event_link(e);
        auto it = links_.find(l);
        if (it == links_.end()) break;
        Device& d = *devices_[it->second];
        if (l == d.sender && !d.ready) {
          d.ready = true;
          d.ready_at = Clock::now();
        } else if (l == d.c2d) {
          out_.line({{"device", d.id}, {"subscribed", pn_terminus_get_address(pn_link_source(l))}});
        }
        break;
      }
      case PN_DELIVERY: {
        pn_delivery_t* dlv = pn_event_delivery(e);
        pn_link_t* l = pn_delivery_link(dlv);
        if (l == cbs_in_) {
          if (!pn_delivery_partial(dlv)) cbs_reply(dlv);
        } else if (l == cbs_out_) {
          if (pn_delivery_remote_state(dlv) != 0) pn_delivery_settle(dlv);
        } else if (pn_link_is_receiver(l)) {
          if (!pn_delivery_partial(dlv)) c2d_message(dlv);
        } else if (pn_delivery_remote_state(dlv) != 0) {
          settled(dlv);
        }
        break;
      }
      case PN_LINK_REMOTE_CLOSE: {
        pn_link_t* l = pn_event_link(e);
        pn_condition_t* c = pn_link_remote_condition(l);
        auto it = links_.find(l);
        if (it == links_.end()) {
          failure_ = "the gateway detached $cbs: " + condition_text(c);
          break;
        }
        bool unauthorized =
            pn_condition_is_set(c) && pn_condition_get_name(c) == std::string_view(kUnauthorized);
        devices_[it->second]->fail(
            unauthorized ? kExitCredentialsRefused : kExitUnreachable,
            std::string("link ") + pn_link_name(l) + " detached: " + condition_text(c));
        pn_link_close(l);
        break;
      }
      case PN_CONNECTION_REMOTE_CLOSE:
        failure_ = "connection closed: " +
                   condition_text(pn_connection_remote_condition(pn_event_connection(e)));
        break;
      default:
        break;
    }
  }

  // Sends what is due: put-tokens as $cbs credit allows, then each device's messages as its
  // credit, window and pacing allow. Returns when the next message becomes due.
  Clock::time_point pump(Clock::time_point now) {
    Clock::time_point wake = Clock::time_point::max();
    if (a_.iothub && cbs_out_) {
      for (std::size_t i = next_token_; i < devices_.size() && pn_link_credit(cbs_out_) > 0;
           i = ++next_token_) {
        Device& d = *devices_[i];
        std::string bytes = encode_put_token(i + 1, o_.hub_host + "/devices/" + d.id, d.token);
        std::string tag = "t" + std::to_string(i + 1);
        pn_delivery(cbs_out_, pn_dtag(tag.data(), tag.size()));
        pn_link_send(cbs_out_, bytes.data(), bytes.size());
        pn_link_advance(cbs_out_);
      }
    }
    bool signalled = stop_requested();
    for (auto& dp : devices_) {
      Device& d = *dp;
      if (d.failed || !d.ready || over(d, now, signalled)) continue;
      if (o_.duration_s > 0) wake = std::min(wake, d.ready_at + duration());
      while (d.next_seq < p_.count && d.in_flight < static_cast<std::size_t>(a_.window) &&
             pn_link_credit(d.sender) > 0) {
        std::size_t most = a_.iothub ? std::max<std::size_t>(a_.batch, 1) : 1;
        std::vector<DeviceMessage> batch;
        while (batch.size() < most && d.next_seq + batch.size() < p_.count) {
          auto due = due_time(d.ready_at, o_.rate, d.next_seq + batch.size());
          if (due > now) {
            if (batch.empty()) wake = std::min(wake, due);
            break;
          }
          std::uint64_t seq = d.next_seq + batch.size();
          batch.push_back(device_message(d.id, seq, d.payloads.next(seq)));
        }
        if (batch.empty()) break;
        send(d, batch);
      }
    }
    return wake;
  }

  void send(Device& d, const std::vector<DeviceMessage>& batch) {
    std::string body = a_.iothub ? encode_batch(batch) : encode_message(batch.front());
    std::string tag = "m" + std::to_string(d.next_seq);
    pn_delivery_t* dlv = pn_delivery(d.sender, pn_dtag(tag.data(), tag.size()));
    pn_link_send(d.sender, body.data(), body.size());
    pn_link_advance(d.sender);
    in_flight_[dlv] = {links_[d.sender], batch.size()};
    ++d.in_flight;
    last_progress_ = Clock::now();
    for (const auto& m : batch) {
      out_.sent(d.id, d.next_seq++, m.message_id, m.payload);
      ++sent_;
    }
  }

  void cbs_reply(pn_delivery_t* dlv) {
    last_progress_ = Clock::now();
    std::string bytes(pn_delivery_pending(dlv), '\0');
    pn_link_recv(cbs_in_, bytes.data(), bytes.size());
    pn_link_advance(cbs_in_);
    pn_delivery_update(dlv, PN_ACCEPTED);
    pn_delivery_settle(dlv);
    pn_link_flow(cbs_in_, 1);
    CbsReply r = decode_put_token_reply(bytes);
    if (!r.error.empty()) {
      failure_ = r.error;
      return;
    }
    if (r.correlation_id == 0 || r.correlation_id > devices_.size()) {
      failure_ = "put-token reply for an unknown request " + std::to_string(r.correlation_id);
      return;
    }
    std::size_t i = r.correlation_id - 1;
    Device& d = *devices_[i];
    if (r.status == 200 || r.status == 202) {
      if (!d.sender && !d.failed) {
        attach(i, "amqps://" + o_.hub_host + "/devices/" + d.id + "/messages/events");
      }
      return;
    }
    if (cbs_status_ == 200 || cbs_status_ == 0) {
      cbs_status_ = r.status;
      cbs_description_ = r.description;
    }
    d.fail(kExitCredentialsRefused, "put-token refused: " + std::to_string(r.status) +
                                        (r.description.empty() ? "" : " " + r.description));
  }

  void c2d_message(pn_delivery_t* dlv) {
    last_progress_ = Clock::now();
    pn_link_t* l = pn_delivery_link(dlv);
    std::string bytes(pn_delivery_pending(dlv), '\0');
    pn_link_recv(l, bytes.data(), bytes.size());
    pn_link_advance(l);
    pn_delivery_update(dlv, PN_ACCEPTED);  // the device's "complete"
    pn_delivery_settle(dlv);
    pn_link_flow(l, 1);
    Device& d = *devices_[links_[l]];
    auto m = decode_message(bytes);
    if (!m) return;
    nlohmann::json props = nlohmann::json::object();
    if (!m->message_id.empty()) props["message_id"] = m->message_id;
    if (!m->correlation_id.empty()) props["correlation_id"] = m->correlation_id;
    for (const auto& [k, v] : m->properties) props[k] = v;
    out_.line({{"device", d.id},
               {"c2d_topic", pn_terminus_get_address(pn_link_source(l))},
               {"payload_base64", iothub::base64_encode(m->payload)},
               {"sha256", iothub::sha256_hex(m->payload)},
               {"properties", props}});
    ++d.c2d_received;
  }

  void settled(pn_delivery_t* dlv) {
    last_progress_ = Clock::now();
    auto it = in_flight_.find(dlv);
    if (it == in_flight_.end()) return;
    auto [index, count] = it->second;
    Device& d = *devices_[index];
    if (pn_delivery_remote_state(dlv) == PN_ACCEPTED) {
      d.acked += count;
    } else {
      d.refused += count;
      if (refusal_.empty()) {
        refusal_ = condition_text(pn_disposition_condition(pn_delivery_remote(dlv)));
      }
    }
    --d.in_flight;
    in_flight_.erase(it);
    pn_delivery_settle(dlv);
  }

  Clock::duration duration() const {
    return std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(o_.duration_s));
  }

  bool over(const Device& d, Clock::time_point now, bool signalled) const {
    return signalled || (o_.duration_s > 0 && d.ready && now - d.ready_at >= duration());
  }

  // Every device failed or done (sent all, or its time is over, and nothing unsettled); with
  // c2d, also the listening is over (--duration, or a signal).
  bool finished(Clock::time_point now) const {
    bool signalled = stop_requested();
    for (const auto& dp : devices_) {
      const Device& d = *dp;
      if (d.failed) continue;
      if (!d.ready) {
        if (!signalled) return false;
        continue;
      }
      if (d.in_flight > 0) return false;
      bool is_over = over(d, now, signalled);
      if (!is_over && d.next_seq < p_.count) return false;
      if (a_.c2d && !is_over) return false;
    }
    return true;
  }

  // Something is owed by the gateway: an attach, a put-token reply, a disposition.
  bool awaiting() const {
    for (const auto& d : devices_) {
      if (!d->failed && (!d->ready || d->in_flight > 0)) return true;
    }
    return false;
  }

  int report() {
    Totals t;
    t.sent = sent_;
    int status = kExitOk;
    std::string error = failure_;
    std::uint64_t c2d = 0;
    for (const auto& d : devices_) {
      t.acknowledged += d->acked;
      t.refused += d->refused;
      c2d += d->c2d_received;
      if (d->failed) {
        status = std::max(status, d->failure_status);
        if (error.empty()) error = d->id + ": " + d->error;
      }
    }
    if (!failure_.empty()) status = std::max<int>(status, kExitUnreachable);
    if (status == kExitOk && (t.refused > 0 || t.acknowledged < t.sent)) {
      status = kExitMessagesRefused;
    }
    if (status == kExitOk && t.sent == 0 && p_.count > 0 && o_.duration_s <= 0 &&
        !stop_requested()) {
      status = kExitMessagesRefused;  // nothing was sent though messages were asked for
    }
    nlohmann::json extra = {
        {"devices", devices_.size()}, {"accepted", t.acknowledged}, {"refusal", refusal_}};
    if (a_.iothub) {
      extra["cbs_status"] = cbs_status_ ? cbs_status_ : (failure_.empty() ? 200 : 0);
      extra["cbs_description"] = cbs_description_;
    }
    if (a_.c2d) extra["c2d_received"] = c2d;
    if (!error.empty()) extra["error"] = error;
    out_.summary(t, start_, extra);
    if (!error.empty()) std::cerr << "holdfast-devsim: " << error << "\n";
    return status;
  }

  const CommonOptions& o_;
  const Prepared& p_;
  const AmqpDeviceOptions& a_;
  Output& out_;
  std::vector<std::unique_ptr<Device>> devices_;
  std::unordered_map<pn_link_t*, std::size_t> links_;  // device links -> device index
  std::map<pn_delivery_t*, std::pair<std::size_t, std::size_t>> in_flight_;  // device, messages
  pn_session_t* session_ = nullptr;
  pn_link_t* cbs_out_ = nullptr;
  pn_link_t* cbs_in_ = nullptr;
  std::size_t next_token_ = 0;
  int cbs_status_ = 0;
  std::string cbs_description_;
  std::string refusal_;
  std::string failure_;  // the connection failed: ends the run
  std::uint64_t sent_ = 0;
  Clock::time_point start_;
  Clock::time_point last_progress_;
};

}  // namespace

int run_amqp_devices(const CommonOptions& common, const Prepared& prepared,
                     const AmqpDeviceOptions& options, Output& out) {
  Run run(common, prepared, options, out);
  return run.run();
}

}  // namespace holdfast::devsim
