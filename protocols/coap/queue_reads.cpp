#include "protocols/coap/queue_reads.h"

#include <algorithm>

#include "broker/core/log.h"
#include "protocols/coap/errors.h"
#include "protocols/coap/request.h"
#include "protocols/coap/server.h"

namespace holdfast::coap {
namespace {

// Answers 2.05 with `answer`'s body: block-wise by libcoap when it is larger than one block.
void answer_with_body(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
                      const coap_string_t* query, coap_pdu_t* response,
                      const ExchangeCache::Answer& answer, std::uint64_t etag) {
  const std::string& body = *answer.body;
  if (!request || body.empty()) {
    add_uint_option(response, COAP_OPTION_CONTENT_FORMAT, answer.format);
    if (!body.empty()) {
      coap_add_data(response, body.size(), reinterpret_cast<const std::uint8_t*>(body.data()));
    }
    coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
    return;
  }
  // A response built outside the handler does not make libcoap split the body by itself:
  // name the block size (1 KiB, or the client's) and let it serve Block2.
  coap_block_t block;
  if (body.size() > 1024 && !coap_get_block(request, COAP_OPTION_BLOCK2, &block)) {
    add_uint_option(response, COAP_OPTION_BLOCK2, 6);  // block 0, size 2^(6+4)
  }
  // Before the body: libcoap copies the PDU as the template of the later blocks.
  coap_pdu_set_code(response, COAP_RESPONSE_CODE_CONTENT);
  auto* hold = new std::shared_ptr<const std::string>(answer.body);
  coap_add_data_large_response(
      resource, session, request, response, query, answer.format, -1, etag, body.size(),
      reinterpret_cast<const std::uint8_t*>(body.data()),
      [](coap_session_t*, void* p) { delete static_cast<std::shared_ptr<const std::string>*>(p); },
      hold);
}

}  // namespace

// One waiting GET: a consumer with credit 1 until its message (or the wait) ends it.
class QueueRead final : public Deferred, public core::QueueConsumer {
 public:
  QueueRead(CoapServer& server, std::string queue, bool peek)
      : server_(server), queue_(std::move(queue)), peek_(peek) {}
  ~QueueRead() override {
    if (timer_) server_.loop().cancel_timer(timer_);
    release();
  }

  void start(std::chrono::milliseconds wait) {
    core::Status s = server_.consumers()->attach(queue_, this);
    if (!s.ok()) return finish(response_for(s.code()), s.message());
    attached_ = true;
    timer_ = server_.loop().add_timer(wait, [this] {
      timer_ = 0;
      finish(kNotFound, "no message in '" + queue_ + "'");
    });
  }

  std::size_t credit() const override { return answered_ ? 0 : 1; }

  void deliver(core::QueueDelivery delivery) override {
    if (answered_) {
      // Cannot happen with credit 0; give it back rather than lose it.
      server_.consumers()->settle(this, delivery.seq, core::Outcome::kReleased);
      return;
    }
    server_.consumers()->settle(this, delivery.seq,
                                peek_ ? core::Outcome::kReleased : core::Outcome::kAccepted);
    seq_ = delivery.seq;
    message_ = std::move(delivery.message);
    has_message_ = true;
    ++server_.mutable_stats().messages_out;
    // detach() may not be called from inside deliver(): leave that to the loop.
    server_.loop().post([alive = server_.alive(), server = &server_, id = id()] {
      if (alive.expired()) return;
      if (auto* read = static_cast<QueueRead*>(server->find(id))) read->release();
    });
    finish(kContent, {});
  }

  void respond(coap_resource_t* resource, coap_session_t* session, const coap_pdu_t* request,
               const coap_string_t* query, coap_pdu_t* response) override {
    ExchangeCache::Answer answer{code_, nullptr, 0, false};
    if (has_message_) {
      answer.code = kContent;
      answer.body = std::make_shared<const std::string>(std::move(message_.payload));
      answer.format = format_for(message_.properties.content_type).value_or(42);
    }
    server_.exchanges().remember(endpoint_key(session), mid(), answer,
                                 std::chrono::steady_clock::now());
    if (!has_message_) return set_response(response, code_, diagnostic_);
    answer_with_body(resource, session, request, query, response, answer, seq_);
  }

 private:
  void finish(ResponseCode code, std::string diagnostic) {
    if (answered_) return;
    answered_ = true;
    code_ = code;
    diagnostic_ = std::move(diagnostic);
    if (timer_) {
      server_.loop().cancel_timer(timer_);
      timer_ = 0;
    }
    if (!has_message_) release();
    server_.ready(id());
  }
  void release() {
    if (!attached_) return;
    attached_ = false;
    server_.consumers()->detach(this);
  }

  CoapServer& server_;
  std::string queue_;
  bool peek_;
  bool attached_ = false;
  bool answered_ = false;
  bool has_message_ = false;
  core::EventLoop::TimerId timer_ = 0;
  ResponseCode code_;
  std::string diagnostic_;
  core::Seq seq_ = 0;
  core::Message message_;
};

void QueueReads::handle(coap_resource_t* resource, coap_session_t* session,
                        const coap_pdu_t* request, const coap_string_t* query,
                        coap_pdu_t* response) {
  const CoapOptions& options = server_.options();
  std::uint16_t mid = static_cast<std::uint16_t>(coap_pdu_get_mid(request));
  // A retransmission of a GET already answered: the same answer, nothing taken again.
  if (auto answer =
          server_.exchanges().find(endpoint_key(session), mid, std::chrono::steady_clock::now())) {
    ++server_.mutable_stats().duplicates;
    if (answer->body) {
      return answer_with_body(resource, session, request, query, response, *answer, 0);
    }
    if (answer->body_dropped) {
      return set_response(response, kServiceUnavailable, "the answer is no longer kept");
    }
    return set_response(response, answer->code);
  }
  // libcoap serves the later blocks of an answer it holds; any other is not ours to make up.
  coap_block_t block;
  if (coap_get_block(request, COAP_OPTION_BLOCK2, &block) && block.num > 0) {
    return set_response(response, kRequestEntityIncomplete, "no such answer to continue");
  }
  auto address = address_from_path(uri_path(request));
  if (!address) return set_response(response, kBadRequest, address.error().message());
  auto parsed = parse_get_query(uri_query(request));
  if (!parsed) return set_response(response, kBadRequest, parsed.error().message());
  if (!server_.consumers() || !server_.consumers()->is_queue(*address)) {
    return set_response(response, kNotFound, "'" + *address + "' is not a queue");
  }
  auto wait = std::min(parsed->wait.value_or(options.get_wait), options.max_get_wait);
  auto read = std::make_unique<QueueRead>(server_, *address, parsed->peek);
  QueueRead* raw = read.get();
  server_.defer(session, request, response, std::move(read), /*keep_request=*/true);
  raw->start(wait);
}

}  // namespace holdfast::coap
