#include "protocols/mqtt/server/session.h"

#include <algorithm>

#include "protocols/mqtt/server/connection.h"
#include "protocols/mqtt/server/persistence.h"
#include "protocols/mqtt/server/server.h"

namespace holdfast::mqtt {

Session::Session(std::string client_id, const ServerOptions& options, ServerStats& stats,
                 Persistence* persistence)
    : client_id_(std::move(client_id)),
      options_(options),
      stats_(stats),
      persistence_(persistence) {}

Session::~Session() {
  *alive_ = false;
}

void Session::save_subscriptions() {
  if (!persistent || persistence_ == nullptr) return;
  std::map<std::string, StoredSubscription> subs;
  for (const auto& [filter, o] : subscriptions) {
    subs[filter] = {static_cast<QoS>(o.max_qos), o.no_local};
  }
  persistence_->save_session(client_id_, subs);
}

void Session::queue(Outgoing out) {
  if (queued_.size() >= options_.max_queued_messages) {
    finish(queued_.front().ticket);
    queued_.pop_front();
    ++stats_.dropped_out;
  }
  queued_.push_back(std::move(out));
  pump();
}

void Session::restore_message(const core::Message& message, QoS qos, core::Seq seq) {
  std::uint64_t ticket = tickets_base_ + tickets_.size();
  tickets_.push_back({seq, true, false});
  queue({message.address, message.payload, message.properties, qos, false, false, ticket});
}

void Session::finish(std::uint64_t ticket) {
  if (ticket == kNoTicket || ticket < tickets_base_) return;
  tickets_[ticket - tickets_base_].done = true;
  commit_done();
}

void Session::commit_done() {
  core::Seq upto = 0;
  while (!tickets_.empty() && tickets_.front().settled && tickets_.front().done) {
    if (tickets_.front().seq != 0) upto = tickets_.front().seq;
    tickets_.pop_front();
    ++tickets_base_;
  }
  if (upto != 0 && persistence_ != nullptr) persistence_->acknowledge(client_id_, upto);
}

void Session::deliver(const core::Message& message, const core::PublishOptions& publish,
                      const std::string& filter, const core::SubscriptionOptions& options,
                      core::DurableCopies& durable) {
  (void)filter;
  auto qos = static_cast<QoS>(std::min<std::uint8_t>(publish.qos, options.max_qos));
  core::DeliveryClaim claim;
  if (publish.watch && qos != QoS::kAtMostOnce) claim = publish.watch->claim();
  send_message(message, qos, false, &durable, std::move(claim));
}

void Session::send_message(const core::Message& message, QoS qos, bool retained,
                           core::DurableCopies* durable, core::DeliveryClaim claim) {
  if (qos == QoS::kAtMostOnce) {
    // QoS 0 is never queued: offline or too slow means dropped (and counted).
    if (connection_ == nullptr ||
        connection_->pending_write_bytes() > options_.max_write_buffer_bytes) {
      ++stats_.dropped_out;
      return;
    }
    Publish p;
    p.topic = message.address;
    p.payload = message.payload;
    p.retain = retained;
    connection_->send(p);
    ++stats_.messages_out;
    return;
  }
  if (connection_ == nullptr && !persistent) {
    ++stats_.dropped_out;
    return;
  }
  std::uint64_t ticket = kNoTicket;
  if (persistent && persistence_ != nullptr) {
    ticket = tickets_base_ + tickets_.size();
    tickets_.push_back({});
    // Stored, the message is in the broker's custody: the watcher learns it was accepted.
    // (Only a watched message pays for the shared claim.)
    std::shared_ptr<core::DeliveryClaim> custody;
    if (claim) custody = std::make_shared<core::DeliveryClaim>(std::move(claim));
    auto stored = [this, alive = std::weak_ptr<bool>(alive_), ticket, custody](core::Seq seq) {
      if (custody && seq != 0) custody->settle(core::Outcome::kAccepted);
      auto still = alive.lock();
      if (!still || !*still || ticket < tickets_base_) return;
      Ticket& t = tickets_[ticket - tickets_base_];
      t.seq = seq;
      t.settled = true;
      commit_done();
    };
    if (durable != nullptr) {
      durable->add(session_queue(client_id_), Persistence::retained_record(message, qos),
                   std::move(stored));
    } else {
      persistence_->save_outgoing(client_id_, message, qos, std::move(stored));
    }
  }
  queue({message.address, message.payload, message.properties, qos, retained, false, ticket,
         std::move(claim)});
}

std::uint16_t Session::next_packet_id() {
  do {
    last_packet_id_ = static_cast<std::uint16_t>(last_packet_id_ + 1);
  } while (last_packet_id_ == 0 || inflight_.contains(last_packet_id_));
  return last_packet_id_;
}

void Session::transmit(std::uint16_t id, const Outgoing& out, bool dup) {
  if (out.released) {
    connection_->send(Pubrel{id});
    return;
  }
  Publish p;
  p.topic = out.topic;
  p.payload = out.payload;
  p.qos = out.qos;
  p.packet_id = id;
  p.dup = dup;
  p.retain = out.retained;
  if (version == ProtocolVersion::kV5) {
    if (!out.properties.content_type.empty())
      p.properties.content_type = out.properties.content_type;
    if (!out.properties.correlation_id.empty()) {
      p.properties.correlation_data = out.properties.correlation_id;
    }
    p.properties.user_properties = out.properties.user;
  }
  connection_->send(p);
}

void Session::pump() {
  while (connection_ != nullptr && !queued_.empty() && inflight_.size() < options_.max_inflight) {
    std::uint16_t id = next_packet_id();
    auto& out = inflight_.emplace(id, std::move(queued_.front())).first->second;
    queued_.pop_front();
    transmit(id, out, false);
    ++stats_.messages_out;
  }
}

void Session::attach(Connection* connection) {
  connection_ = connection;
  if (connection_ == nullptr) return;
  for (const auto& [id, out] : inflight_) transmit(id, out, true);  // MQTT-4.4.0-1
  pump();
}

void Session::on_puback(std::uint16_t id, ReasonCode reason) {
  auto it = inflight_.find(id);
  if (it == inflight_.end() || it->second.qos != QoS::kAtLeastOnce) return;
  it->second.claim.settle(is_failure(reason) ? core::Outcome::kRejected : core::Outcome::kAccepted);
  std::uint64_t ticket = it->second.ticket;
  inflight_.erase(it);
  finish(ticket);
  pump();
}

void Session::on_pubrec(std::uint16_t id) {
  auto it = inflight_.find(id);
  if (it == inflight_.end() || it->second.qos != QoS::kExactlyOnce) {
    if (connection_) {
      Pubrel rel{id};
      rel.reason_code = ReasonCode::kPacketIdentifierNotFound;
      connection_->send(rel);
    }
    return;
  }
  it->second.released = true;
  it->second.payload.clear();  // only the packet id matters from now on
  if (connection_) connection_->send(Pubrel{id});
}

void Session::on_pubcomp(std::uint16_t id) {
  auto it = inflight_.find(id);
  if (it == inflight_.end() || !it->second.released) return;
  it->second.claim.settle(core::Outcome::kAccepted);
  std::uint64_t ticket = it->second.ticket;
  inflight_.erase(it);
  finish(ticket);
  pump();
}

}  // namespace holdfast::mqtt
