#include "protocols/coap/uploads.h"

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "protocols/coap/errors.h"
#include "protocols/coap/request.h"
#include "protocols/coap/server.h"

namespace holdfast::coap {
namespace {

constexpr std::size_t kMaxDiagnostic = 120;

class UploadAnswer final : public Deferred {
 public:
  UploadAnswer(std::chrono::seconds retry_after, std::string endpoint)
      : retry_after_(retry_after), endpoint_(std::move(endpoint)) {}
  void respond(coap_resource_t*, coap_session_t*, const coap_pdu_t*, const coap_string_t*,
               coap_pdu_t* response) override {
    set_response(response, code_, diagnostic_, retry_after_);
  }
  bool plain_answer() const override { return true; }
  ResponseCode code_;
  std::string diagnostic_;
  std::chrono::seconds retry_after_;
  std::string endpoint_;  // endpoint_key(): the ExchangeCache's key
};

}  // namespace

void Uploads::handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response,
                     bool post) {
  CoapStats& stats = server_.mutable_stats();
  const CoapOptions& options = server_.options();
  auto now = std::chrono::steady_clock::now();
  std::string endpoint = endpoint_key(session);
  std::uint16_t mid = static_cast<std::uint16_t>(coap_pdu_get_mid(request));
  if (auto answer = server_.exchanges().find(endpoint, mid, now)) {
    ++stats.duplicates;
    set_response(response, answer->code, "duplicate", options.retry_after);
    return;
  }
  auto refuse = [&](ResponseCode code, const std::string& why) {
    ++stats.refused_messages;
    server_.exchanges().remember(endpoint, mid, code, now);
    set_response(response, code, why.substr(0, kMaxDiagnostic), options.retry_after);
    core::log(core::LogLevel::kInfo, "coap",
              "refused a message from " + peer_of(session) + ": " + why, "refused");
  };
  auto address = address_from_path(uri_path(request));
  if (!address) return refuse(kBadRequest, address.error().message());

  std::size_t length = 0, offset = 0, total = 0;
  const std::uint8_t* data = nullptr;
  if (!coap_get_data_large(request, &length, &data, &offset, &total)) {
    length = total = 0;
  }
  if (total > options.max_body_bytes || length > options.max_body_bytes) {
    add_uint_option(response, COAP_OPTION_SIZE1, options.max_body_bytes);
    return refuse(response_for(core::Code::kTooLarge),
                  "body larger than " + std::to_string(options.max_body_bytes) + " bytes");
  }

  std::string device;
  auto named = core::parse_device_address(*address);
  std::string identity = server_.device_identity(session);
  if (!identity.empty()) {
    if (named && named->device_id != identity) {
      return refuse(response_for(core::Code::kPermissionDenied),
                    "device '" + identity + "' may not send as '" + named->device_id + "'");
    }
    device = identity;
  } else if (named) {
    device = named->device_id;
  }

  core::Message m;
  m.address = std::move(*address);
  if (data && length) m.payload.assign(reinterpret_cast<const char*>(data), length);
  if (auto format = uint_option(request, COAP_OPTION_CONTENT_FORMAT)) {
    m.properties.content_type = content_type_for(static_cast<std::uint16_t>(*format));
  }
  m.origin = {core::Protocol::kCoap, peer_of(session), std::move(device)};
  m.received_at_ms = core::now_ms();
  bool confirmable = coap_pdu_get_type(request) == COAP_MESSAGE_CON;
  core::PublishOptions publish;
  publish.assurance = confirmable ? core::Assurance::kDurable : core::Assurance::kBestEffort;
  publish.qos = confirmable ? 1 : 0;

  std::uint64_t id =
      server_.defer(session, request, response,
                    std::make_unique<UploadAnswer>(options.retry_after, std::move(endpoint)));
  ++stats.messages_in;
  server_.ingress().submit(
      std::move(m), publish,
      [server = &server_, alive = server_.alive(), id, post](core::Result<void> r) {
        if (alive.expired()) return;
        auto* answer = static_cast<UploadAnswer*>(server->find(id));
        if (!answer) return;
        if (r) {
          answer->code_ = post ? kCreated : kChanged;
        } else {
          answer->code_ = response_for(r.error().code());
          answer->diagnostic_ = r.error().message().substr(0, kMaxDiagnostic);
          ++server->mutable_stats().refused_messages;
          core::log(
              core::LogLevel::kInfo, "coap",
              "refused a message from " + peer_of(answer->session()) + ": " + r.error().message(),
              "refused");
        }
        server->exchanges().remember(answer->endpoint_, answer->mid(), answer->code_,
                                     std::chrono::steady_clock::now());
        server->ready(id);
      });
}

}  // namespace holdfast::coap
