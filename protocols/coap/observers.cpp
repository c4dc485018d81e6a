#include "protocols/coap/observers.h"

#include "broker/core/log.h"
#include "protocols/coap/errors.h"
#include "protocols/coap/request.h"
#include "protocols/coap/server.h"

namespace holdfast::coap {

// One registered observer: a live subscriber, or a consumer of a queue.
class Observation final : public core::Subscriber, public core::QueueConsumer {
 public:
  Observation(CoapServer& server, coap_session_t* session, std::string token, std::string filter,
              bool queue)
      : server_(server),
        session_(session),
        token_(std::move(token)),
        filter_(std::move(filter)),
        id_(peer_of(session) + "/coap-observe"),
        queue_(queue) {}

  core::Status start() {
    if (queue_) {
      core::Status s = server_.consumers()->attach(filter_, this);
      if (!s.ok()) return s;
    } else {
      server_.registry().subscribe(filter_, this, core::SubscriptionOptions{0, false});
    }
    started_ = true;
    ++server_.mutable_stats().observers;
    return {};
  }

  void stop() {
    if (!started_) return;
    started_ = false;
    --server_.mutable_stats().observers;
    if (queue_) {
      server_.consumers()->detach(this);
    } else {
      server_.registry().unsubscribe_all(this);
    }
  }
  ~Observation() override { stop(); }

  std::uint32_t next_sequence() { return sequence_++ & 0xFFFFFF; }

  // Subscriber
  void deliver(const core::Message& message, const core::PublishOptions&, const std::string&,
               const core::SubscriptionOptions&, core::DurableCopies&) override {
    notify(message);
  }
  const std::string& subscriber_id() const override { return id_; }

  // QueueConsumer
  std::size_t credit() const override { return started_ ? 1 : 0; }
  void deliver(core::QueueDelivery delivery) override {
    bool sent = notify(delivery.message);
    server_.consumers()->settle(this, delivery.seq,
                                sent ? core::Outcome::kAccepted : core::Outcome::kReleased);
  }

 private:
  bool notify(const core::Message& message) {
    coap_session_t* s = session_;
    bool confirmable = ++notified_ % 16 == 0;
    coap_pdu_t* pdu =
        coap_pdu_init(confirmable ? COAP_MESSAGE_CON : COAP_MESSAGE_NON, COAP_RESPONSE_CODE_CONTENT,
                      coap_new_message_id(s), coap_session_max_pdu_size(s));
    if (!pdu) return false;
    coap_add_token(pdu, token_.size(), reinterpret_cast<const std::uint8_t*>(token_.data()));
    add_uint_option(pdu, COAP_OPTION_OBSERVE, next_sequence());
    add_uint_option(pdu, COAP_OPTION_CONTENT_FORMAT,
                    format_for(message.properties.content_type).value_or(42));
    if (!message.payload.empty() &&
        !coap_add_data(pdu, message.payload.size(),
                       reinterpret_cast<const std::uint8_t*>(message.payload.data()))) {
      coap_delete_pdu(pdu);
      ++server_.mutable_stats().dropped_live;
      core::log(core::LogLevel::kInfo, "coap",
                "a message on '" + message.address + "' is too large to notify " + peer_of(s),
                "notify-too-large");
      return false;
    }
    coap_send(s, pdu);
    ++server_.mutable_stats().messages_out;
    return true;
  }

  CoapServer& server_;
  coap_session_t* session_;  // not referenced: session_gone() ends the observation
  std::string token_;
  std::string filter_;
  std::string id_;
  bool queue_;
  bool started_ = false;
  std::uint32_t sequence_ = 0;
  std::uint64_t notified_ = 0;
};

Observers::Observers(CoapServer& server) : server_(server) {}

Observers::~Observers() {
  close_all();
}

void Observers::handle(coap_session_t* session, const coap_pdu_t* request, coap_pdu_t* response,
                       std::uint32_t observe) {
  Key key{session, token_of(request)};
  if (auto it = observations_.find(key); it != observations_.end()) end(it);
  if (observe != 0) {  // deregistration: a plain answer without Observe
    set_response(response, kContent);
    return;
  }
  auto filter = filter_from_path(uri_path(request));
  if (!filter) return set_response(response, kBadRequest, filter.error().message());
  bool queue = server_.consumers() && server_.consumers()->is_queue(*filter);
  auto observation = std::make_unique<Observation>(server_, session, key.second, *filter, queue);
  if (core::Status s = observation->start(); !s.ok()) {
    return set_response(response, response_for(s.code()), s.message());
  }
  add_uint_option(response, COAP_OPTION_OBSERVE, observation->next_sequence());
  set_response(response, kContent);
  core::log_debug("coap",
                  peer_of(session) + " observes '" + *filter + "'" + (queue ? " (queue)" : ""));
  observations_.emplace(std::move(key), std::move(observation));
}

void Observers::end(std::map<Key, std::unique_ptr<Observation>>::iterator it) {
  observations_.erase(it);
}

void Observers::session_gone(coap_session_t* session) {
  auto it = observations_.lower_bound(Key{session, std::string()});
  while (it != observations_.end() && it->first.first == session) it = observations_.erase(it);
}

void Observers::refused(coap_session_t* session, const coap_pdu_t* sent) {
  if (!sent) return;
  auto it = observations_.find(Key{session, token_of(sent)});
  if (it != observations_.end()) end(it);
}

void Observers::close_all() {
  observations_.clear();
}

std::size_t Observers::count(coap_session_t* session) const {
  std::size_t n = 0;
  for (auto it = observations_.lower_bound(Key{session, std::string()});
       it != observations_.end() && it->first.first == session; ++it) {
    ++n;
  }
  return n;
}

}  // namespace holdfast::coap
