// Links on which Holdfast sends: queue consumers, topic receivers, `$cbs` replies.
#include <proton/condition.h>
#include <proton/disposition.h>

#include <cstring>

#include "broker/core/log.h"
#include "protocols/amqp/connection.h"
#include "protocols/amqp/errors.h"
#include "protocols/amqp/links.h"
#include "protocols/amqp/message_codec.h"
#include "protocols/amqp/server.h"

namespace holdfast::amqp {

pn_delivery_t* send_message(pn_link_t* link, std::uint64_t tag, const std::string& encoded) {
  char bytes[sizeof tag];
  std::memcpy(bytes, &tag, sizeof tag);
  pn_delivery_t* d = pn_delivery(link, pn_dtag(bytes, sizeof bytes));
  pn_link_send(link, encoded.data(), encoded.size());
  pn_link_advance(link);
  return d;
}

std::optional<core::Outcome> remote_outcome(pn_delivery_t* d, std::string* reason) {
  switch (pn_delivery_remote_state(d)) {
    case PN_ACCEPTED:
      return core::Outcome::kAccepted;
    case PN_RELEASED:
      return core::Outcome::kReleased;
    case PN_MODIFIED:
      return pn_disposition_is_failed(pn_delivery_remote(d)) ? core::Outcome::kModified
                                                             : core::Outcome::kReleased;
    case PN_REJECTED: {
      if (reason) {
        pn_condition_t* c = pn_disposition_condition(pn_delivery_remote(d));
        const char* name = c ? pn_condition_get_name(c) : nullptr;
        const char* desc = c ? pn_condition_get_description(c) : nullptr;
        *reason = std::string("rejected by consumer") + (name ? std::string(": ") + name : "") +
                  (desc ? std::string(" (") + desc + ")" : "");
      }
      return core::Outcome::kRejected;
    }
    default:
      if (!pn_delivery_settled(d)) return std::nullopt;  // e.g. `received`: not an outcome yet
      return core::Outcome::kAccepted;  // settled without an outcome: the receiver took it
  }
}

// ---- QueueLink ---------------------------------------------------------------------------------

void QueueLink::opened() {
  core::Status s = connection_.server().consumers()->attach(address_, this);
  if (!s.ok()) {
    connection_.close_link(*this, condition_for(s.code()), s.message());
    return;
  }
  attached_ = true;
}

std::size_t QueueLink::credit() const {
  int credit = pn_link_credit(link_);
  return credit > 0 ? static_cast<std::size_t>(credit) : 0;
}

void QueueLink::on_flow() {
  if (attached_ && credit() > 0) connection_.server().consumers()->wake(this);
}

void QueueLink::deliver(core::QueueDelivery delivery) {
  std::string encoded = encode_message(delivery.message, delivery.delivery_count);
  pn_delivery_t* d = send_message(link_, next_tag_++, encoded);
  ++connection_.server().mutable_stats().messages_out;
  if (pn_link_remote_snd_settle_mode(link_) == PN_SND_SETTLED) {
    // The receiver asked for at-most-once: the message is consumed as it leaves.
    pn_delivery_settle(d);
    connection_.server().consumers()->settle(this, delivery.seq, core::Outcome::kAccepted);
  } else {
    unsettled_.emplace(d, delivery.seq);
  }
  connection_.schedule_pump();
}

void QueueLink::on_delivery(pn_delivery_t* d) {
  auto it = unsettled_.find(d);
  if (it == unsettled_.end()) return;
  std::string reason;
  auto outcome = remote_outcome(d, &reason);
  if (!outcome) return;
  core::Seq seq = it->second;
  unsettled_.erase(it);
  pn_delivery_settle(d);
  connection_.server().consumers()->settle(this, seq, *outcome, reason);
  connection_.schedule_pump();
}

void QueueLink::detach() {
  if (!attached_) return;
  attached_ = false;
  unsettled_.clear();  // the registry gives them back to the queue
  connection_.server().consumers()->detach(this);
}

// ---- TopicLink ---------------------------------------------------------------------------------

void TopicLink::opened() {
  connection_.server().registry().subscribe(address_, this, core::SubscriptionOptions{1, false});
  subscribed_ = true;
}

void TopicLink::deliver(const core::Message& message, const core::PublishOptions& publish,
                        const std::string&, const core::SubscriptionOptions&,
                        core::DurableCopies&) {
  core::DeliveryClaim claim;
  if (publish.watch && pn_link_remote_snd_settle_mode(link_) != PN_SND_SETTLED) {
    claim = publish.watch->claim();
  }
  buffered_.push_back({encode_message(message, 0), std::move(claim)});
  auto max = connection_.server().options().max_buffered_live;
  while (buffered_.size() > max) {
    buffered_.pop_front();
    ++connection_.server().mutable_stats().dropped_live;
    core::log(core::LogLevel::kInfo, "amqp",
              "dropped live messages for a receiver on '" + address_ + "' without credit (" +
                  connection_.peer() + ")",
              "dropped-live");
  }
  send_buffered();
}

void TopicLink::on_flow() {
  send_buffered();
}

void TopicLink::send_buffered() {
  bool sent = false;
  while (!buffered_.empty() && pn_link_credit(link_) > 0) {
    Pending& front = buffered_.front();
    pn_delivery_t* d = send_message(link_, next_tag_++, front.encoded);
    if (front.claim) {
      unsettled_.emplace(d, std::move(front.claim));
    } else {
      pn_delivery_settle(d);
    }
    buffered_.pop_front();
    ++connection_.server().mutable_stats().messages_out;
    sent = true;
  }
  if (sent) connection_.schedule_pump();
}

void TopicLink::on_delivery(pn_delivery_t* d) {
  auto it = unsettled_.find(d);
  if (it == unsettled_.end()) return;
  auto outcome = remote_outcome(d, nullptr);
  if (!outcome) return;
  it->second.settle(*outcome);  // modified, like released, ends the claim without an outcome
  unsettled_.erase(it);
  pn_delivery_settle(d);
  connection_.schedule_pump();
}

void TopicLink::detach() {
  if (!subscribed_) return;
  subscribed_ = false;
  connection_.server().registry().unsubscribe_all(this);
  unsettled_.clear();  // no outcome: the publisher's watch counts them released
  buffered_.clear();
}

// ---- CbsReplyLink ------------------------------------------------------------------------------

void CbsReplyLink::send(std::string encoded) {
  waiting_.push_back(std::move(encoded));
  on_flow();
}

void CbsReplyLink::on_flow() {
  while (!waiting_.empty() && pn_link_credit(link_) > 0) {
    pn_delivery_t* d = send_message(link_, next_tag_++, waiting_.front());
    pn_delivery_settle(d);
    waiting_.pop_front();
  }
}

void CbsReplyLink::on_delivery(pn_delivery_t*) {}

}  // namespace holdfast::amqp
