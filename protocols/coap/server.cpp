#include "protocols/coap/server.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "broker/core/log.h"
#include "protocols/coap/dtls.h"
#include "protocols/coap/io.h"
#include "protocols/coap/observers.h"
#include "protocols/coap/queue_reads.h"
#include "protocols/coap/uploads.h"

namespace holdfast::coap {
namespace {

constexpr std::string_view kLog = "coap";
// Batches of libcoap events handled per readiness of its epoll set before other work runs.
constexpr int kDrainRounds = 16;

// The server whose libcoap I/O is running: libcoap's log lines are attributed to it.
thread_local CoapServer* processing = nullptr;

void on_log(coap_log_t level, const char* message) {
  std::string_view text(message);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (processing && (text.find("discard malformed PDU") != text.npos ||
                     text.find("dropped message with invalid code") != text.npos)) {
    ++processing->mutable_stats().malformed;
    core::log(core::LogLevel::kDebug, kLog, text, "malformed");
    return;
  }
  // Registering a separate response copies the request into a PDU of datagram size, which
  // cannot hold a reassembled Block1 body; the copy is not needed (the body is stored).
  if (text.find("coap_pdu_resize: pdu too big") != text.npos) level = LOG_DEBUG;
  // CoapIo passes a readable socket's event once per datagram it estimates; a read that finds
  // the queue empty already (the estimate was high) is expected: libcoap's two lines about it
  // ("coap_network_read: Resource temporarily unavailable", then "...: read failed") are not
  // warnings here.
  static thread_local bool after_eagain = false;
  bool eagain = text.find("coap_network_read: Resource temporarily unavailable") != text.npos;
  if (eagain || (after_eagain && text.find(": read failed") != text.npos)) level = LOG_DEBUG;
  after_eagain = eagain;
  core::LogLevel ours = level <= LOG_ERR       ? core::LogLevel::kError
                        : level <= LOG_WARNING ? core::LogLevel::kWarn
                        : level <= LOG_INFO    ? core::LogLevel::kInfo
                                               : core::LogLevel::kDebug;
  // libcoap repeats itself per datagram: fold repeats by message.
  core::log(ours, kLog, text, text);
}

void start_libcoap() {
  static std::once_flag once;
  std::call_once(once, [] {
    coap_startup();
    coap_set_log_handler(on_log);
    // HOLDFAST_COAP_TRACE=1 shows libcoap's own packet trace in holdfastd's debug log.
    const char* trace = std::getenv("HOLDFAST_COAP_TRACE");
    coap_set_log_level(trace && *trace == '1' ? LOG_DEBUG : LOG_WARNING);
  });
}

}  // namespace

CoapServer::CoapServer(core::EventLoop& loop, core::Ingress& ingress,
                       core::SubscriptionRegistry& registry, core::ConsumerRegistry* consumers,
                       CoapOptions options)
    : loop_(loop),
      ingress_(ingress),
      registry_(registry),
      consumers_(consumers),
      options_(std::move(options)),
      exchanges_(options_.exchange_lifetime, options_.max_exchanges),
      limiter_(options_.rate_limit),
      dtls_(std::make_unique<Dtls>(options_)),
      uploads_(std::make_unique<Uploads>(*this)),
      reads_(std::make_unique<QueueReads>(*this)),
      observers_(std::make_unique<Observers>(*this)) {}

CoapServer::~CoapServer() {
  stop_accepting();
  close_all();
  // Sessions must be released before their context goes.
  deferred_.clear();
  answered_.clear();
  observers_.reset();
  alive_.reset();
  context_.reset();
}

core::Status CoapServer::start() {
  start_libcoap();
  std::string what = std::string(options_.dtls ? "CoAP DTLS" : "CoAP") + " listener " +
                     options_.bind + ":" + std::to_string(options_.port);
  context_.reset(coap_new_context(nullptr));
  if (!context_) return {core::Code::kInternal, what + ": cannot create a libcoap context"};
  coap_context_t* ctx = context_.get();
  coap_set_app_data(ctx, this);
  coap_context_set_block_mode(ctx, COAP_BLOCK_USE_LIBCOAP | COAP_BLOCK_SINGLE_BODY);
  coap_context_set_max_idle_sessions(ctx, options_.max_endpoints);
  coap_context_set_session_timeout(ctx, static_cast<unsigned>(options_.session_timeout.count()));
  coap_register_event_handler(ctx, on_event);
  coap_register_nack_handler(ctx, on_nack);
  if (options_.dtls) {
    if (auto status = dtls_->setup(ctx, what); !status.ok()) return status;
  }
  coap_address_t address;
  coap_address_init(&address);
  if (inet_pton(AF_INET, options_.bind.c_str(), &address.addr.sin.sin_addr) == 1) {
    address.addr.sin.sin_family = AF_INET;
    address.addr.sin.sin_port = htons(options_.port);
    address.size = sizeof(address.addr.sin);
  } else if (inet_pton(AF_INET6, options_.bind.c_str(), &address.addr.sin6.sin6_addr) == 1) {
    address.addr.sin6.sin6_family = AF_INET6;
    address.addr.sin6.sin6_port = htons(options_.port);
    address.size = sizeof(address.addr.sin6);
  } else {
    return {core::Code::kInvalidArgument, what + ": not an IP address"};
  }
  if (!coap_new_endpoint(ctx, &address, options_.dtls ? COAP_PROTO_DTLS : COAP_PROTO_UDP)) {
    return {core::Code::kIoError, what + ": cannot listen (address in use?)"};
  }
  coap_resource_t* any = coap_resource_unknown_init2(on_request, 0);
  for (coap_request_t method : {COAP_REQUEST_GET, COAP_REQUEST_POST, COAP_REQUEST_DELETE,
                                COAP_REQUEST_FETCH, COAP_REQUEST_PATCH, COAP_REQUEST_IPATCH}) {
    coap_register_handler(any, method, on_request);
  }
  coap_add_resource(ctx, any);
  resource_ = any;
  fd_ = coap_context_get_coap_fd(ctx);
  if (fd_ < 0) return {core::Code::kUnsupported, what + ": this libcoap has no epoll support"};
  if (auto s = loop_.add(fd_, EPOLLIN, [this](std::uint32_t) { process(); }); !s.ok()) return s;
  io_ = std::make_unique<CoapIo>(ctx, fd_);
  int buffer = io_->enlarge_receive_buffers(options_.receive_buffer_bytes);
  if (buffer < options_.receive_buffer_bytes) {
    core::log(core::LogLevel::kInfo, kLog,
              what + ": UDP receive buffer " + std::to_string(buffer) + " bytes (asked for " +
                  std::to_string(options_.receive_buffer_bytes) +
                  "; the kernel caps it at net.core.rmem_max)",
              "rcvbuf");
  }
  core::log_info(kLog, "listening on " + options_.bind + ":" + std::to_string(options_.port) +
                           (options_.dtls ? " (DTLS, " + dtls_->describe() + ")" : ""));
  return {};
}

void CoapServer::process() {
  processing = this;
  io_->drain(kDrainRounds);
  processing = nullptr;
}

void CoapServer::stop_accepting() {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  fd_ = -1;
}

void CoapServer::close_all() {
  if (io_) io_->flush();
  if (observers_) observers_->close_all();
  // Waiting requests release their consumers; they stay unanswered.
  pending_.clear();
  unacknowledged_.clear();
  if (ack_timer_) loop_.cancel_timer(ack_timer_);
  ack_timer_ = 0;
  deferred_.clear();
  answered_.clear();
}

std::uint64_t CoapServer::defer(coap_session_t* session, const coap_pdu_t* request,
                                coap_pdu_t* response, std::unique_ptr<Deferred> deferred,
                                bool keep_request) {
  std::uint64_t id = next_id_++;
  Deferred& d = *deferred;
  d.session_ = reference(session);
  d.token_ = token_of(request);
  d.id_ = id;
  d.mid_ = static_cast<std::uint16_t>(coap_pdu_get_mid(request));
  d.confirmable_ = coap_pdu_get_type(request) == COAP_MESSAGE_CON;
  if (keep_request) {
    coap_bin_const_t token = coap_pdu_get_token(request);
    d.request_.reset(coap_pdu_duplicate(request, session, token.length, token.s, nullptr));
  }
  coap_opt_iterator_t it;
  if (coap_opt_t* block1 = coap_check_option(request, COAP_OPTION_BLOCK1, &it)) {
    d.block1_.emplace(reinterpret_cast<const char*>(coap_opt_value(block1)),
                      coap_opt_length(block1));
  }
  // An empty NON answer is dropped by libcoap: nothing goes out until ready().
  coap_pdu_set_type(response, COAP_MESSAGE_NON);
  coap_pdu_set_code(response, COAP_EMPTY_CODE);
  pending_[ExchangeKey{session, d.mid_}] = id;
  if (d.confirmable_) {
    d.ack_by_ = std::chrono::steady_clock::now() + options_.piggyback_wait;
    unacknowledged_.push_back(id);
    if (!ack_timer_) {
      ack_timer_ = loop_.add_timer(options_.piggyback_wait, [this] { acknowledge_late(); });
    }
  }
  deferred_.emplace(id, std::move(deferred));
  return id;
}

Deferred* CoapServer::find(std::uint64_t id) {
  auto it = deferred_.find(id);
  return it == deferred_.end() ? nullptr : it->second.get();
}

void CoapServer::ready(std::uint64_t id) {
  auto it = deferred_.find(id);
  if (it == deferred_.end()) return;
  std::unique_ptr<Deferred> owned = std::move(it->second);
  deferred_.erase(it);
  Deferred& d = *owned;
  coap_session_t* session = d.session();
  pending_.erase(ExchangeKey{session, d.mid_});
  // Piggybacked on the ACK while the request is unacknowledged; else a new message.
  bool piggyback = d.confirmable_ && !d.acknowledged_;
  coap_pdu_type_t type = piggyback        ? COAP_MESSAGE_ACK
                         : d.confirmable_ ? COAP_MESSAGE_CON
                                          : COAP_MESSAGE_NON;
  coap_mid_t mid = piggyback ? d.mid_ : coap_new_message_id(session);
  if (coap_pdu_t* pdu =
          coap_pdu_init(type, COAP_EMPTY_CODE, mid, coap_session_max_pdu_size(session))) {
    coap_add_token(pdu, d.token_.size(), reinterpret_cast<const std::uint8_t*>(d.token_.data()));
    if (d.block1_) {
      coap_add_option(pdu, COAP_OPTION_BLOCK1, d.block1_->size(),
                      reinterpret_cast<const std::uint8_t*>(d.block1_->data()));
    }
    std::unique_ptr<coap_string_t, StringDeleter> query(
        d.request_ ? coap_get_query(d.request_.get()) : nullptr);
    d.respond(resource_, session, d.request_.get(), query.get(), pdu);
    const coap_address_t* remote = coap_session_get_addr_remote(session);
    const coap_address_t* local = coap_session_get_addr_local(session);
    if (d.plain_answer() && (piggyback || !d.confirmable_) && remote && local &&
        coap_session_get_proto(session) == COAP_PROTO_UDP && io_->queue(pdu, *remote, *local)) {
      coap_delete_pdu(pdu);
      if (!flush_posted_) {
        flush_posted_ = true;  // the turn's answers leave together
        loop_.post([this, alive = std::weak_ptr<bool>(alive_)] {
          if (alive.expired()) return;
          flush_posted_ = false;
          io_->flush();
          stats_.answers_not_sent = io_->dropped();
        });
      }
    } else {
      coap_send(session, pdu);
    }
  }
  // The Deferred may be the caller (a consumer's deliver()): destroy it on a later turn.
  if (answered_.empty()) {
    loop_.post([this, alive = std::weak_ptr<bool>(alive_)] {
      if (!alive.expired()) answered_.clear();
    });
  }
  answered_.push_back(std::move(owned));
}

void CoapServer::send_empty_ack(Deferred& d) {
  d.acknowledged_ = true;
  if (coap_pdu_t* ack = coap_pdu_init(COAP_MESSAGE_ACK, COAP_EMPTY_CODE, d.mid_,
                                      coap_session_max_pdu_size(d.session()))) {
    coap_send(d.session(), ack);
  }
}

void CoapServer::acknowledge_late() {
  ack_timer_ = 0;
  auto now = std::chrono::steady_clock::now();
  while (!unacknowledged_.empty()) {
    Deferred* d = find(unacknowledged_.front());
    if (d && d->ack_by_ > now) {
      auto wait = std::chrono::ceil<std::chrono::milliseconds>(d->ack_by_ - now);
      ack_timer_ = loop_.add_timer(wait, [this] { acknowledge_late(); });
      return;
    }
    if (d && !d->acknowledged_) send_empty_ack(*d);
    unacknowledged_.pop_front();
  }
}

// A retransmission of a request still being answered: acknowledged (empty ACK) if it was
// confirmable, never handled twice.
bool CoapServer::retransmitted(coap_session_t* session, const coap_pdu_t* request,
                               coap_pdu_t* response) {
  if (pending_.empty()) return false;
  auto it =
      pending_.find(ExchangeKey{session, static_cast<std::uint16_t>(coap_pdu_get_mid(request))});
  if (it == pending_.end()) return false;
  ++stats_.duplicates;
  Deferred* d = find(it->second);
  coap_pdu_set_type(response, COAP_MESSAGE_NON);  // libcoap sends nothing itself
  coap_pdu_set_code(response, COAP_EMPTY_CODE);
  if (d && d->confirmable_ && !d->acknowledged_) send_empty_ack(*d);
  return true;
}

void CoapServer::on_request(coap_resource_t* resource, coap_session_t* session,
                            const coap_pdu_t* request, const coap_string_t* query,
                            coap_pdu_t* response) {
  auto* self = static_cast<CoapServer*>(coap_get_app_data(coap_session_get_context(session)));
  self->handle(resource, session, request, query, response);
}

void CoapServer::handle(coap_resource_t* resource, coap_session_t* session,
                        const coap_pdu_t* request, const coap_string_t* query,
                        coap_pdu_t* response) {
  if (retransmitted(session, request, response)) return;
  ++stats_.requests;
  if (auto it = endpoints_.find(session); it != endpoints_.end() && !it->second.admitted) {
    ++stats_.refused_endpoints;
    return set_response(response, kServiceUnavailable, "too many client endpoints",
                        options_.retry_after);
  }
  auto wait = limiter_.admit(source_ip(session), std::chrono::steady_clock::now());
  if (wait.count() > 0) {
    ++stats_.rate_limited;
    auto seconds = std::chrono::ceil<std::chrono::seconds>(wait);
    return set_response(response, kTooManyRequests, "rate limit", seconds);
  }
  switch (coap_pdu_get_code(request)) {
    case COAP_REQUEST_CODE_POST:
      return uploads_->handle(session, request, response, true);
    case COAP_REQUEST_CODE_PUT:
      return uploads_->handle(session, request, response, false);
    case COAP_REQUEST_CODE_GET:
      if (auto observe = uint_option(request, COAP_OPTION_OBSERVE)) {
        return observers_->handle(session, request, response, *observe);
      }
      return reads_->handle(resource, session, request, query, response);
    default:
      return set_response(response, kMethodNotAllowed, "POST, PUT or GET");
  }
}

int CoapServer::on_event(coap_session_t* session, coap_event_t event) {
  auto* self = static_cast<CoapServer*>(coap_get_app_data(coap_session_get_context(session)));
  if (!self) return 0;
  if (event == COAP_EVENT_SERVER_SESSION_NEW) {
    bool admitted = self->endpoints_.size() < self->options_.max_endpoints;
    self->endpoints_[session] = Endpoint{std::chrono::steady_clock::now(), admitted};
    self->stats_.endpoints = self->endpoints_.size();
    if (!admitted) {
      core::log(core::LogLevel::kWarn, kLog,
                "refusing " + peer_of(session) + ": max_connections (" +
                    std::to_string(self->options_.max_endpoints) + ") endpoints reached",
                "max-endpoints");
    }
  } else if (event == COAP_EVENT_SERVER_SESSION_DEL) {
    if (self->observers_) self->observers_->session_gone(session);
    self->dtls_->forget(session);
    self->endpoints_.erase(session);
    self->stats_.endpoints = self->endpoints_.size();
  }
  return 0;
}

void CoapServer::on_nack(coap_session_t* session, const coap_pdu_t* sent, coap_nack_reason_t reason,
                         coap_mid_t) {
  auto* self = static_cast<CoapServer*>(coap_get_app_data(coap_session_get_context(session)));
  if (!self || !self->observers_) return;
  if (reason == COAP_NACK_RST || reason == COAP_NACK_TOO_MANY_RETRIES) {
    self->observers_->refused(session, sent);
  }
}

std::string CoapServer::device_identity(const coap_session_t* session) const {
  return dtls_->identity(session);
}

std::vector<CoapEndpointInfo> CoapServer::endpoints() const {
  std::vector<CoapEndpointInfo> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [session, e] : endpoints_) {
    CoapEndpointInfo info;
    info.peer = peer_of(session);
    info.device_id = device_identity(session);
    info.connected_for_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - e.since).count();
    info.observations = observers_ ? observers_->count(session) : 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace holdfast::coap
