#include "tools/devsim/coap_device.h"

#include <coap3/coap.h>
#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace holdfast::devsim {
namespace {

using Clock = std::chrono::steady_clock;

struct ContextDeleter {
  void operator()(coap_context_t* c) const { coap_free_context(c); }
};

struct Device {
  Device(const CommonOptions& o, const Prepared& p, std::size_t index)
      : id(p.devices[index].id), payloads(o, p.tea, index) {}

  std::string id;
  PayloadSource payloads;
  coap_session_t* session = nullptr;
  std::uint64_t next_seq = 0;
  bool waiting = false;  // a request is outstanding
  std::string token;     // its token
  Clock::time_point sent_at;
  std::uint64_t acked = 0, refused = 0;
  bool failed = false;
  std::string error;
};

struct Tally {
  std::string first_refusal;  // "4.04 Not Found"
};
Tally* g_tally = nullptr;  // libcoap's handlers take no argument of ours

std::string code_text(coap_pdu_code_t code) {
  unsigned c = static_cast<unsigned>(code);
  std::string text =
      std::to_string(c >> 5) + "." + (((c & 31) < 10) ? "0" : "") + std::to_string(c & 31);
  if (const char* phrase = coap_response_phrase(static_cast<unsigned char>(c))) {
    text += std::string(" ") + phrase;
  }
  return text;
}

coap_response_t on_response(coap_session_t* session, const coap_pdu_t*, const coap_pdu_t* received,
                            const coap_mid_t) {
  auto* d = static_cast<Device*>(coap_session_get_app_data(session));
  coap_pdu_code_t code = coap_pdu_get_code(received);
  if (!d || !d->waiting || code == COAP_EMPTY_CODE) return COAP_RESPONSE_OK;  // separate answer
  coap_bin_const_t token = coap_pdu_get_token(received);
  if (std::string(reinterpret_cast<const char*>(token.s), token.length) != d->token) {
    return COAP_RESPONSE_OK;
  }
  d->waiting = false;
  if (code == COAP_RESPONSE_CODE_CREATED || code == COAP_RESPONSE_CODE_CHANGED) {
    ++d->acked;
  } else {
    ++d->refused;
    if (g_tally->first_refusal.empty()) g_tally->first_refusal = d->id + ": " + code_text(code);
  }
  return COAP_RESPONSE_OK;
}

void on_nack(coap_session_t* session, const coap_pdu_t*, const coap_nack_reason_t reason,
             const coap_mid_t) {
  auto* d = static_cast<Device*>(coap_session_get_app_data(session));
  if (!d || !d->waiting) return;
  d->waiting = false;
  d->failed = true;
  switch (reason) {
    case COAP_NACK_TOO_MANY_RETRIES:
      d->error = "no answer after retransmissions";
      break;
    case COAP_NACK_RST:
      d->error = "the gateway answered with a reset";
      break;
    case COAP_NACK_ICMP_ISSUE:
      d->error = "ICMP error: nothing listens there";
      break;
    default:
      d->error = "the request could not be delivered";
  }
}

bool resolve(const std::string& host, std::uint16_t port, coap_address_t& out, std::string& why) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_DGRAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0) {
    why = gai_strerror(rc);
    return false;
  }
  coap_address_init(&out);
  std::memcpy(&out.addr.sa, found->ai_addr, found->ai_addrlen);
  out.size = found->ai_addrlen;
  freeaddrinfo(found);
  return true;
}

class Run {
 public:
  Run(const CommonOptions& o, const Prepared& p, const CoapDeviceOptions& c, Output& out)
      : o_(o), p_(p), c_(c), out_(out) {}

  int run() {
    start_ = Clock::now();
    coap_startup();
    coap_set_log_level(LOG_ERR);
    g_tally = &tally_;
    int status = serve();
    for (auto& d : devices_) {
      if (d->session) coap_session_release(d->session);
    }
    ctx_.reset();
    coap_cleanup();
    g_tally = nullptr;
    return status;
  }

 private:
  int serve() {
    ctx_.reset(coap_new_context(nullptr));
    if (!ctx_) return fail_all("cannot create a libcoap context");
    coap_register_response_handler(ctx_.get(), on_response);
    coap_register_nack_handler(ctx_.get(), on_nack);
    coap_address_t server;
    std::string why;
    if (!resolve(o_.host, o_.port ? o_.port : 5683, server, why)) {
      return fail_all("cannot resolve " + o_.host + ": " + why);
    }
    for (std::size_t i = 0; i < p_.devices.size(); ++i) {
      auto d = std::make_unique<Device>(o_, p_, i);
      d->session = coap_new_client_session(ctx_.get(), nullptr, &server, COAP_PROTO_UDP);
      if (!d->session) return fail_all("cannot open a CoAP session for " + d->id);
      coap_session_set_app_data(d->session, d.get());
      devices_.push_back(std::move(d));
    }
    loop();
    return report();
  }

  int fail_all(const std::string& why) {
    out_.summary({}, start_, {{"devices", p_.devices.size()}, {"error", why}});
    return kExitUnreachable;
  }

  void send(Device& d) {
    std::uint64_t seq = d.next_seq;
    std::string payload = d.payloads.next(seq);
    coap_pdu_t* pdu = coap_pdu_init(c_.non_confirmable ? COAP_MESSAGE_NON : COAP_MESSAGE_CON,
                                    COAP_REQUEST_CODE_POST, coap_new_message_id(d.session),
                                    coap_session_max_pdu_size(d.session));
    std::uint8_t token[8];
    std::size_t token_length = 0;
    coap_session_new_token(d.session, &token_length, token);
    coap_add_token(pdu, token_length, token);
    d.token.assign(reinterpret_cast<const char*>(token), token_length);
    std::string path = "devices/" + d.id + "/messages/events";
    for (std::size_t start = 0; start < path.size();) {
      std::size_t end = std::min(path.find('/', start), path.size());
      coap_add_option(pdu, COAP_OPTION_URI_PATH, end - start,
                      reinterpret_cast<const std::uint8_t*>(path.data() + start));
      start = end + 1;
    }
    std::uint8_t format[1] = {42};  // application/octet-stream
    coap_add_option(pdu, COAP_OPTION_CONTENT_FORMAT, 1, format);
    coap_add_data(pdu, payload.size(), reinterpret_cast<const std::uint8_t*>(payload.data()));
    d.waiting = true;
    d.sent_at = Clock::now();
    if (coap_send(d.session, pdu) == COAP_INVALID_MID) {
      d.waiting = false;
      d.failed = true;
      d.error = "libcoap could not send the request";
      return;
    }
    out_.sent(d.id, seq, message_id(d.id, seq), payload);
    ++d.next_seq;
    ++sent_;
  }

  void loop() {
    auto end = o_.duration_s > 0 ? start_ + std::chrono::duration_cast<Clock::duration>(
                                                std::chrono::duration<double>(o_.duration_s))
                                 : Clock::time_point::max();
    auto timeout = std::chrono::milliseconds(o_.timeout_ms);
    while (true) {
      auto now = Clock::now();
      bool stopping = stop_requested() || now >= end;
      auto wake = now + std::chrono::milliseconds(100);
      bool busy = false;
      for (auto& dp : devices_) {
        Device& d = *dp;
        if (!d.failed && !d.waiting && !stopping && d.next_seq < p_.count) {
          auto due = due_time(start_, o_.rate, d.next_seq);
          if (due <= now) {
            send(d);
          } else {
            wake = std::min(wake, due);
          }
        }
        if (d.failed) continue;
        if (d.waiting && now - d.sent_at > timeout) {
          d.waiting = false;
          d.failed = true;
          d.error = "no answer within " + std::to_string(o_.timeout_ms) + " ms";
        }
        if (d.waiting || (!stopping && d.next_seq < p_.count)) busy = true;
      }
      if (!busy) return;
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(wake - Clock::now()).count();
      coap_io_process(ctx_.get(), static_cast<unsigned>(std::clamp<long long>(ms, 1, 100)));
    }
  }

  int report() {
    Totals t;
    t.sent = sent_;
    std::string error;
    bool failed = false;
    for (auto& d : devices_) {
      t.acknowledged += d->acked;
      t.refused += d->refused;
      if (d->failed) {
        failed = true;
        if (error.empty()) error = d->id + ": " + d->error;
      }
    }
    nlohmann::json extra = {{"devices", devices_.size()}, {"confirmable", !c_.non_confirmable}};
    if (!error.empty()) extra["error"] = error;
    if (!tally_.first_refusal.empty()) extra["refusal"] = tally_.first_refusal;
    out_.summary(t, start_, extra);
    if (failed) return kExitUnreachable;
    return t.refused > 0 || t.acknowledged < t.sent ? kExitMessagesRefused : kExitOk;
  }

  const CommonOptions& o_;
  const Prepared& p_;
  const CoapDeviceOptions& c_;
  Output& out_;
  Tally tally_;
  std::unique_ptr<coap_context_t, ContextDeleter> ctx_;
  std::vector<std::unique_ptr<Device>> devices_;
  Clock::time_point start_;
  std::uint64_t sent_ = 0;
};

}  // namespace

int run_coap_devices(const CommonOptions& common, const Prepared& prepared,
                     const CoapDeviceOptions& options, Output& out) {
  Run run(common, prepared, options, out);
  return run.run();
}

}  // namespace holdfast::devsim
