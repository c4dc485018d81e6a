#include "tools/devsim/amqp_device.h"

#include <netdb.h>
#include <poll.h>
#include <proton/codec.h>
#include <proton/condition.h>
#include <proton/connection.h>
#include <proton/connection_driver.h>
#include <proton/delivery.h>
#include <proton/disposition.h>
#include <proton/event.h>
#include <proton/link.h>
#include <proton/message.h>
#include <proton/sasl.h>
#include <proton/sasl_plugin.h>
#include <proton/session.h>
#include <proton/terminus.h>
#include <proton/transport.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>

namespace holdfast::devsim {
namespace {

// ---- SASL MSSBCBS, client side (Proton's built-in client knows only PLAIN/ANONYMOUS/EXTERNAL)

void sasl_free(pn_transport_t*) {}
const char* sasl_mechs(pn_transport_t*) {
  return "MSSBCBS";
}
bool sasl_init_server(pn_transport_t*) {
  return false;
}
bool sasl_init_client(pn_transport_t*) {
  return true;
}
void sasl_prepare(pn_transport_t*) {}
void sasl_process_init(pn_transport_t*, const char*, const pn_bytes_t*) {}
void sasl_process_response(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_process_mechanisms(pn_transport_t* t, const char* mechs) {
  if (!mechs || !std::strstr(mechs, "MSSBCBS")) return false;
  pnx_sasl_set_selected_mechanism(t, "MSSBCBS");
  pnx_sasl_set_bytes_out(t, pn_bytes(0, ""));
  pnx_sasl_set_desired_state(t, SASL_POSTED_INIT);
  return true;
}
void sasl_process_challenge(pn_transport_t*, const pn_bytes_t*) {}
void sasl_process_outcome(pn_transport_t*, const pn_bytes_t*) {}
bool sasl_can_encrypt(pn_transport_t*) {
  return false;
}
ssize_t sasl_max_encrypt(pn_transport_t*) {
  return 0;
}
ssize_t sasl_encode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}
ssize_t sasl_decode(pn_transport_t*, pn_bytes_t, pn_bytes_t*) {
  return 0;
}

const pnx_sasl_implementation kMssbcbs = {
    sasl_free,
    sasl_mechs,
    sasl_init_server,
    sasl_init_client,
    sasl_prepare,
    sasl_process_init,
    sasl_process_response,
    sasl_process_mechanisms,
    sasl_process_challenge,
    sasl_process_outcome,
    sasl_can_encrypt,
    sasl_max_encrypt,
    sasl_encode,
    sasl_decode,
};

struct MessageDeleter {
  void operator()(pn_message_t* m) const { pn_message_free(m); }
};
using MessagePtr = std::unique_ptr<pn_message_t, MessageDeleter>;

std::string encode(pn_message_t* m) {
  pn_rwbytes_t buf{0, nullptr};
  ssize_t n = pn_message_encode2(m, &buf);
  std::string out(buf.start, static_cast<std::size_t>(n > 0 ? n : 0));
  std::free(buf.start);
  return out;
}

void put_string(pn_data_t* d, const std::string& s) {
  pn_data_put_string(d, pn_bytes(s.size(), s.data()));
}

// One inner message of a batch, encoded as the C SDK does (properties, application
// properties, one data section).
std::string encode_inner(const DeviceMessage& m) {
  MessagePtr msg(pn_message());
  pn_msgid_t id{};
  id.type = PN_STRING;
  id.u.as_bytes = pn_bytes(m.message_id.size(), m.message_id.data());
  if (!m.message_id.empty()) pn_message_set_id(msg.get(), id);
  if (!m.content_type.empty()) pn_message_set_content_type(msg.get(), m.content_type.c_str());
  if (!m.properties.empty()) {
    pn_data_t* props = pn_message_properties(msg.get());
    pn_data_put_map(props);
    pn_data_enter(props);
    for (const auto& [k, v] : m.properties) {
      put_string(props, k);
      put_string(props, v);
    }
    pn_data_exit(props);
  }
  pn_message_set_inferred(msg.get(), true);
  pn_data_put_binary(pn_message_body(msg.get()), pn_bytes(m.payload.size(), m.payload.data()));
  return encode(msg.get());
}

std::string data_section(const std::string& content) {
  pn_data_t* d = pn_data(4);
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, 0x75);
  pn_data_put_binary(d, pn_bytes(content.size(), content.data()));
  pn_data_exit(d);
  std::string out(static_cast<std::size_t>(pn_data_encoded_size(d)), '\0');
  pn_data_encode(d, out.data(), out.size());
  pn_data_free(d);
  return out;
}

int connect_tcp(const std::string& host, std::uint16_t port, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    why = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a && fd < 0; a = a->ai_next) {
    fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && ::connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      why = std::strerror(errno);
      ::close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  return fd;
}

class Device {
 public:
  Device(const AmqpDeviceOptions& o, const std::vector<DeviceMessage>& messages)
      : o_(o), messages_(messages) {}

  core::Result<AmqpDeviceResult> run() {
    std::string why;
    int fd = connect_tcp(o_.host, o_.port, why);
    if (fd < 0) {
      return core::error(core::Code::kUnavailable, "cannot connect to " + o_.host + ":" +
                                                       std::to_string(o_.port) + ": " + why);
    }
    pn_connection_driver_t driver;
    pn_connection_driver_init(&driver, nullptr, nullptr);
    pn_sasl(driver.transport);
    pnx_sasl_set_implementation(driver.transport, &kMssbcbs, nullptr);
    pn_connection_set_container(driver.connection, ("devsim-" + o_.device_id).c_str());
    pn_connection_set_hostname(driver.connection, o_.hub_host.c_str());
    pn_connection_open(driver.connection);
    session_ = pn_session(driver.connection);
    pn_session_open(session_);
    cbs_out_ = pn_sender(session_, "cbs-sender");
    pn_terminus_set_address(pn_link_target(cbs_out_), "$cbs");
    pn_terminus_set_address(pn_link_source(cbs_out_), "cbs-sender");
    pn_link_open(cbs_out_);
    cbs_in_ = pn_receiver(session_, "cbs-receiver");
    pn_terminus_set_address(pn_link_source(cbs_in_), "$cbs");
    pn_terminus_set_address(pn_link_target(cbs_in_), "cbs-receiver");
    pn_link_open(cbs_in_);
    pn_link_flow(cbs_in_, 1);

    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(o_.timeout_ms);
    std::string failure;
    while (!done_ && failure.empty()) {
      while (pn_event_t* e = pn_connection_driver_next_event(&driver)) handle(e, failure);
      // Write everything, then wait for input.
      for (pn_bytes_t out = pn_connection_driver_write_buffer(&driver); out.size > 0;
           out = pn_connection_driver_write_buffer(&driver)) {
        ssize_t n = ::send(fd, out.start, out.size, MSG_NOSIGNAL);
        if (n <= 0) {
          pn_connection_driver_write_close(&driver);
          break;
        }
        pn_connection_driver_write_done(&driver, static_cast<std::size_t>(n));
      }
      if (pn_connection_driver_finished(&driver)) {
        if (failure.empty()) failure = "the gateway closed the connection";
        break;
      }
      if (pn_connection_driver_has_event(&driver) || done_) continue;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) {
        failure = "timed out";
        break;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      pn_rwbytes_t in = pn_connection_driver_read_buffer(&driver);
      if (in.size == 0) continue;
      ssize_t n = ::recv(fd, in.start, in.size, 0);
      if (n > 0) {
        pn_connection_driver_read_done(&driver, static_cast<std::size_t>(n));
      } else {
        pn_connection_driver_read_close(&driver);
      }
    }
    if (failure.empty()) {
      pn_connection_close(driver.connection);
      while (pn_connection_driver_next_event(&driver)) {
      }
      pn_bytes_t out = pn_connection_driver_write_buffer(&driver);
      if (out.size > 0) (void)!::send(fd, out.start, out.size, MSG_NOSIGNAL);
    }
    pn_condition_t* cond = pn_transport_condition(driver.transport);
    if (!failure.empty() && pn_condition_is_set(cond)) {
      const char* desc = pn_condition_get_description(cond);
      failure += std::string(" (") + pn_condition_get_name(cond) +
                 (desc ? std::string(": ") + desc : "") + ")";
    }
    pn_connection_driver_destroy(&driver);
    ::close(fd);
    if (!failure.empty() && !cbs_failed_) return core::error(core::Code::kUnavailable, failure);
    return result_;
  }

 private:
  void handle(pn_event_t* e, std::string& failure) {
    switch (pn_event_type(e)) {
      case PN_LINK_FLOW: {
        pn_link_t* l = pn_event_link(e);
        if (l == cbs_out_ && !token_sent_ && pn_link_credit(l) > 0) send_put_token();
        if (l == events_) send_batches();
        break;
      }
      case PN_DELIVERY: {
        pn_delivery_t* d = pn_event_delivery(e);
        pn_link_t* l = pn_delivery_link(d);
        if (l == cbs_in_ && !pn_delivery_partial(d)) {
          read_reply(d, failure);
        } else if (l == events_ && pn_delivery_remote_state(d) != 0) {
          settled(d);
        } else if (l == cbs_out_ && pn_delivery_remote_state(d) != 0) {
          pn_delivery_settle(d);
        }
        break;
      }
      case PN_LINK_REMOTE_CLOSE: {
        pn_condition_t* c = pn_link_remote_condition(pn_event_link(e));
        failure = std::string("link detached: ") +
                  (pn_condition_is_set(c) ? pn_condition_get_name(c) : "no error");
        break;
      }
      case PN_CONNECTION_REMOTE_CLOSE: {
        pn_condition_t* c = pn_connection_remote_condition(pn_event_connection(e));
        failure = std::string("connection closed: ") +
                  (pn_condition_is_set(c) ? pn_condition_get_name(c) : "no error");
        break;
      }
      default:
        break;
    }
  }

  void send_put_token() {
    MessagePtr m(pn_message());
    pn_msgid_t id{};
    id.type = PN_ULONG;  // as the C SDK: a ulong message-id, no reply-to
    id.u.as_ulong = 1;
    pn_message_set_id(m.get(), id);
    pn_data_t* props = pn_message_properties(m.get());
    pn_data_put_map(props);
    pn_data_enter(props);
    put_string(props, "operation");
    put_string(props, "put-token");
    put_string(props, "type");
    put_string(props, "servicebus.windows.net:sastoken");
    put_string(props, "name");
    put_string(props, o_.hub_host + "/devices/" + o_.device_id);
    pn_data_exit(props);
    put_string(pn_message_body(m.get()), o_.sas_token);
    std::string bytes = encode(m.get());
    pn_delivery(cbs_out_, pn_dtag("t1", 2));
    pn_link_send(cbs_out_, bytes.data(), bytes.size());
    pn_link_advance(cbs_out_);
    token_sent_ = true;
  }

  void read_reply(pn_delivery_t* d, std::string& failure) {
    std::string bytes(pn_delivery_pending(d), '\0');
    pn_link_recv(cbs_in_, bytes.data(), bytes.size());
    pn_link_advance(cbs_in_);
    pn_delivery_update(d, PN_ACCEPTED);
    pn_delivery_settle(d);
    MessagePtr m(pn_message());
    if (pn_message_decode(m.get(), bytes.data(), bytes.size()) != 0) {
      failure = "undecodable put-token reply";
      return;
    }
    pn_msgid_t cid = pn_message_get_correlation_id(m.get());
    if (cid.type != PN_ULONG || cid.u.as_ulong != 1) {
      failure = "put-token reply with a correlation-id that is not ulong 1 (the C SDK rejects it)";
      return;
    }
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
        if (k == "status-code") {
          if (pn_data_type(props) != PN_INT) {
            failure = "status-code is not an AMQP int (the C SDK rejects it)";
            return;
          }
          result_.cbs_status = pn_data_get_int(props);
        } else if (k == "status-description" && pn_data_type(props) == PN_STRING) {
          auto v = pn_data_get_string(props);
          result_.cbs_description.assign(v.start, v.size);
        }
      }
      pn_data_exit(props);
    }
    if (result_.cbs_status != 200 && result_.cbs_status != 202) {
      cbs_failed_ = true;
      done_ = true;
      return;
    }
    std::string address =
        "amqps://" + o_.hub_host + "/devices/" + o_.device_id + "/messages/events";
    events_ = pn_sender(session_, ("events-" + o_.device_id).c_str());
    pn_terminus_set_address(pn_link_target(events_), address.c_str());
    pn_link_set_snd_settle_mode(events_, PN_SND_UNSETTLED);
    pn_link_open(events_);
    if (messages_.empty()) done_ = true;
  }

  void send_batches() {
    while (next_ < messages_.size() && pn_link_credit(events_) > 0) {
      std::size_t count = std::min(o_.batch == 0 ? 1 : o_.batch, messages_.size() - next_);
      std::string body;
      for (std::size_t i = 0; i < count; ++i)
        body += data_section(encode_inner(messages_[next_ + i]));
      std::string tag = "b" + std::to_string(next_);
      pn_delivery_t* d = pn_delivery(events_, pn_dtag(tag.data(), tag.size()));
      pn_link_send(events_, body.data(), body.size());
      pn_link_advance(events_);
      in_flight_[d] = count;
      next_ += count;
    }
  }

  void settled(pn_delivery_t* d) {
    auto it = in_flight_.find(d);
    if (it == in_flight_.end()) return;
    if (pn_delivery_remote_state(d) == PN_ACCEPTED) {
      result_.accepted += it->second;
    } else {
      result_.refused += it->second;
      pn_condition_t* c = pn_disposition_condition(pn_delivery_remote(d));
      if (result_.refusal.empty() && pn_condition_is_set(c)) {
        const char* desc = pn_condition_get_description(c);
        result_.refusal =
            std::string(pn_condition_get_name(c)) + (desc ? std::string(": ") + desc : "");
      }
    }
    in_flight_.erase(it);
    pn_delivery_settle(d);
    if (next_ == messages_.size() && in_flight_.empty()) done_ = true;
  }

  const AmqpDeviceOptions& o_;
  const std::vector<DeviceMessage>& messages_;
  AmqpDeviceResult result_;
  pn_session_t* session_ = nullptr;
  pn_link_t* cbs_out_ = nullptr;
  pn_link_t* cbs_in_ = nullptr;
  pn_link_t* events_ = nullptr;
  bool token_sent_ = false;
  bool cbs_failed_ = false;
  bool done_ = false;
  std::size_t next_ = 0;
  std::map<pn_delivery_t*, std::size_t> in_flight_;
};

}  // namespace

core::Result<AmqpDeviceResult> run_amqp_device(const AmqpDeviceOptions& options,
                                               const std::vector<DeviceMessage>& messages) {
  Device device(options, messages);
  return device.run();
}

}  // namespace holdfast::devsim
