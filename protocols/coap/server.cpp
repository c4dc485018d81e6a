#include "protocols/coap/server.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <cstring>
#include <mutex>

#include "broker/core/log.h"
#include "protocols/coap/observers.h"
#include "protocols/coap/psk_keys.h"
#include "protocols/coap/queue_reads.h"
#include "protocols/coap/uploads.h"

namespace holdfast::coap {
namespace {

constexpr std::string_view kLog = "coap";

// The server whose coap_io_process() is running: libcoap's log lines are attributed to it.
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
      uploads_(std::make_unique<Uploads>(*this)),
      reads_(std::make_unique<QueueReads>(*this)),
      observers_(std::make_unique<Observers>(*this)) {}

CoapServer::~CoapServer() {
  stop_accepting();
  close_all();
  // Sessions must be released before their context goes.
  deferred_.clear();
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
    if (!coap_dtls_is_supported()) {
      return {core::Code::kUnsupported, what + ": this libcoap has no DTLS support"};
    }
    if (!options_.psk || options_.psk->size() == 0) {
      return {core::Code::kInvalidArgument, what + ": DTLS needs pre-shared keys (psk_file)"};
    }
    coap_dtls_spsk_t setup;
    std::memset(&setup, 0, sizeof setup);
    setup.version = COAP_DTLS_SPSK_SETUP_VERSION;
    setup.validate_id_call_back = on_psk_identity;
    setup.id_call_back_arg = this;
    if (!coap_context_set_psk2(ctx, &setup)) {
      return {core::Code::kInternal, what + ": cannot set up DTLS with pre-shared keys"};
    }
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
  fd_ = coap_context_get_coap_fd(ctx);
  if (fd_ < 0) return {core::Code::kUnsupported, what + ": this libcoap has no epoll support"};
  if (auto s = loop_.add(fd_, EPOLLIN, [this](std::uint32_t) { process(); }); !s.ok()) return s;
  core::log_info(kLog, "listening on " + options_.bind + ":" + std::to_string(options_.port) +
                           (options_.dtls ? " (DTLS, pre-shared keys)" : ""));
  return {};
}

void CoapServer::process() {
  processing = this;
  coap_io_process(context_.get(), COAP_IO_NO_WAIT);
  processing = nullptr;
}

void CoapServer::stop_accepting() {
  if (fd_ < 0) return;
  loop_.remove(fd_);
  fd_ = -1;
}

void CoapServer::close_all() {
  if (observers_) observers_->close_all();
  // Waiting GETs release their consumers; their requests stay unanswered.
  for (auto& [id, d] : deferred_) {
    if (coap_async_t* a = coap_find_async(d->session(), token_view(d->token_))) {
      coap_free_async(d->session(), a);
    }
  }
  deferred_.clear();
}

std::uint64_t CoapServer::defer(coap_session_t* session, const coap_pdu_t* request,
                                std::unique_ptr<Deferred> deferred) {
  coap_async_t* async = coap_register_async(session, request, 0);
  if (!async) return 0;
  std::uint64_t id = next_id_++;
  deferred->session_ = reference(session);
  deferred->token_ = token_of(request);
  deferred->id_ = id;
  coap_async_set_app_data(async, reinterpret_cast<void*>(static_cast<std::uintptr_t>(id)));
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
  Deferred& d = *it->second;
  d.ready_ = true;
  coap_async_t* async = coap_find_async(d.session(), token_view(d.token_));
  if (async) {
    coap_async_trigger(async);
  } else {
    deferred_.erase(it);  // libcoap dropped the request (its session went away)
  }
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
  // The second call for a deferred request: its answer is ready.
  if (coap_async_t* async = coap_find_async(session, coap_pdu_get_token(request))) {
    auto id = reinterpret_cast<std::uintptr_t>(coap_async_get_app_data(async));
    auto it = deferred_.find(id);
    if (it != deferred_.end() && it->second->ready_) {
      it->second->respond(resource, session, request, query, response);
      deferred_.erase(it);  // libcoap frees the async state when this handler returns
    }
    return;
  }
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
      return reads_->handle(session, request, response);
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

const coap_bin_const_t* CoapServer::on_psk_identity(coap_bin_const_t* identity,
                                                    coap_session_t* session, void* arg) {
  auto* self = static_cast<CoapServer*>(arg);
  std::string id(reinterpret_cast<const char*>(identity->s), identity->length);
  const std::string* key = self->options_.psk ? self->options_.psk->key(id) : nullptr;
  if (!key) {
    core::log(core::LogLevel::kInfo, kLog,
              "refused DTLS identity '" + id + "' from " + peer_of(session) + ": unknown",
              "psk-unknown");
    return nullptr;
  }
  self->psk_scratch_ = {key->size(), reinterpret_cast<const std::uint8_t*>(key->data())};
  return &self->psk_scratch_;
}

std::string CoapServer::psk_identity(const coap_session_t* session) const {
  if (!options_.dtls) return {};
  const coap_bin_const_t* id = coap_session_get_psk_identity(session);
  if (!id || !id->s) return {};
  return std::string(reinterpret_cast<const char*>(id->s), id->length);
}

std::vector<CoapEndpointInfo> CoapServer::endpoints() const {
  std::vector<CoapEndpointInfo> out;
  auto now = std::chrono::steady_clock::now();
  for (const auto& [session, e] : endpoints_) {
    CoapEndpointInfo info;
    info.peer = peer_of(session);
    info.device_id = psk_identity(session);
    info.connected_for_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - e.since).count();
    info.observations = observers_ ? observers_->count(session) : 0;
    out.push_back(std::move(info));
  }
  return out;
}

}  // namespace holdfast::coap
