// Cloud-to-device, the Forwarder's part: a message from the hub goes to the local broker,
// watched, and the device's answer goes back to the hub (see forwarder.h).
#include "bridge/forwarder.h"

#include "broker/core/address.h"
#include "broker/core/log.h"
#include "broker/iothub/device_keys.h"
#include "broker/iothub/property_bag.h"
#include "broker/iothub/token_store.h"

namespace holdfast::bridge {
namespace {
constexpr std::string_view kLog = "bridge";
}  // namespace

void Forwarder::want_c2d(const std::string& device) {
  if (stopped_ || !options_.deliver_c2d) return;
  offer_kept(device);  // what waited for it in the store goes now
  open_for_c2d(device, "subscribed to its cloud-to-device messages");
}

void Forwarder::open_for_c2d(const std::string& device, const std::string& why) {
  if (stopped_ || !options_.deliver_c2d || device_queue_.contains(device)) return;
  // Only a device this upstream can log in for (quietly: other upstreams may serve it).
  if (options_.keys) {
    if (!options_.keys->mint(options_.hub.host, device, "", core::now_s() + 60)) return;
  } else if (!options_.tokens || !options_.tokens->get(device, core::now_s())) {
    return;
  }
  auto q = std::make_unique<Queue>();
  q->name = std::string("\0c2d/", 5) + device;  // no store queue name starts with NUL
  q->device = device;
  q->c2d_only = true;
  q->cursor_ready = true;
  q->main.at_end = true;
  Queue& entry = *q;
  device_queue_[device] = q->name;
  queues_.emplace(q->name, std::move(q));
  core::log_info(kLog, "device '" + device + "' " + why + ": receiving them from upstream '" +
                           options_.upstream + "'");
  pump(entry);
}

void Forwarder::adopt_device(Queue& q) {
  auto it = device_queue_.find(q.device);
  if (it != device_queue_.end() && it->second != q.name) {
    auto entry = queues_.find(it->second);
    if (entry != queues_.end() && entry->second->c2d_only) {
      // The device opened for its C2D alone now has a queue: the queue takes over its link.
      q.token_presented = entry->second->token_presented;
      q.link_ready = entry->second->link_ready;
      queues_.erase(entry);
    }
  }
  device_queue_[q.device] = q.name;
}

void Forwarder::on_c2d(const std::string& device, std::uint64_t id, core::Message m) {
  // The address IoT Hub's MQTT devices expect: .../devicebound/{property bag}.
  std::string bag = iothub::encode_property_bag(m.properties);
  m.address = "devices/" + device + "/messages/devicebound" + (bag.empty() ? "" : "/" + bag);
  m.origin = {core::Protocol::kInternal, "bridge/" + options_.upstream, device};
  m.received_at_ms = core::now_ms();
  auto box = outboxes_.find(device);
  bool behind_kept =
      box != outboxes_.end() && (!box->second.open || box->second.next < box->second.end);
  if (!hub_->relays_c2d_settlement() || behind_kept) {
    // Complete at the hub already (MQTT), or earlier messages wait in the store: keep it there
    // too (in order).
    keep_for_device(device, id, std::move(m));
    return;
  }
  offer_c2d(device, id, std::move(m));
}

void Forwarder::keep_for_device(const std::string& device, std::uint64_t id, core::Message m) {
  HubConnection* hub = hub_.get();
  keep_c2d(device, std::move(m), [this, hub, id](bool stored) {
    if (hub_.get() != hub || !connected_) return;  // the hub redelivers it after a reconnect
    hub_->settle_c2d(id, stored ? HubConnection::C2dOutcome::kComplete
                                : HubConnection::C2dOutcome::kAbandon);
  });
}

void Forwarder::offer_c2d(std::string device, std::uint64_t id, core::Message message) {
  HubConnection* hub = hub_.get();
  core::Message copy = message;
  // The watch and `done` run on the io thread, possibly after this forwarder is gone: they
  // touch only the loop and a weak pointer until they are back on the bridge thread.
  auto watch = core::DeliveryWatch::make(
      [this, hub, device, id, loop = &loop_,
       alive = std::weak_ptr<bool>(alive_)](core::Outcome outcome) {
        loop->post([this, hub, device, id, outcome, alive] {
          if (alive.lock()) settle_c2d(hub, device, id, outcome);
        });
      });
  options_.deliver_c2d(
      std::move(copy), watch,
      [this, hub, device, id, watch, message = std::move(message), loop = &loop_,
       alive = std::weak_ptr<bool>(alive_)](core::Status status) mutable {
        if (status.ok()) {
          watch->close();  // the outcome is the device's, reported by the watch
          return;
        }
        watch->cancel();
        loop->post([this, hub, device, id, status, alive, message = std::move(message)]() mutable {
          if (!alive.lock()) return;
          if (hub_.get() != hub || !connected_) return;  // the hub redelivers it after a reconnect
          if (status.code() == core::Code::kNotFound) {
            // Nobody subscribed: the message waits in the store (Holdfast's custody, as for
            // an offline session).
            keep_for_device(device, id, std::move(message));
          } else {
            core::log(core::LogLevel::kInfo, kLog,
                      "cloud-to-device message for '" + device + "' abandoned: " + status.message(),
                      "c2d-abandoned");
            ++stats_.c2d_abandoned;
            hub_->settle_c2d(id, HubConnection::C2dOutcome::kAbandon);
          }
        });
      });
}

void Forwarder::settle_c2d(HubConnection* hub, const std::string& device, std::uint64_t id,
                           core::Outcome outcome) {
  if (hub_.get() != hub || !connected_) return;  // the hub redelivers it after a reconnect
  switch (outcome) {
    case core::Outcome::kAccepted:
      ++stats_.c2d_delivered;
      hub_->settle_c2d(id, HubConnection::C2dOutcome::kComplete);
      return;
    case core::Outcome::kRejected:
      ++stats_.c2d_rejected;
      core::log(core::LogLevel::kInfo, kLog,
                "cloud-to-device message for '" + device + "' rejected by the device",
                "c2d-rejected");
      hub_->settle_c2d(id, HubConnection::C2dOutcome::kReject);
      return;
    default:
      ++stats_.c2d_abandoned;
      hub_->settle_c2d(id, HubConnection::C2dOutcome::kAbandon);
      return;
  }
}

// ---- the outbox: C2D kept in the store until the device takes it ---------------------------

void Forwarder::keep_c2d(const std::string& device, core::Message message,
                         std::function<void(bool)> stored) {
  auto append = [this, device, stored](core::Message m) mutable {
    std::vector<core::AppendRequest> batch(1);
    batch[0].queue = outbox_queue(device);
    batch[0].message = std::move(m);
    store_.append(std::move(batch), from_store<std::vector<core::Seq>>(
                                        [this, device, stored](auto seqs) {
                                          if (!seqs) {
                                            core::log_warn(kLog,
                                                           "cannot keep a cloud-to-device "
                                                           "message for '" + device + "': " +
                                                               seqs.error().message());
                                            stored(false);
                                            return;
                                          }
                                          Outbox& box = outboxes_[device];
                                          box.end = std::max(box.end, seqs->front() + 1);
                                          ++stats_.c2d_kept;
                                          stored(true);
                                          offer_kept(device);
                                        }));
  };
  Outbox& box = outboxes_[device];
  if (box.open) {
    append(std::move(message));
    return;
  }
  // The cursor first: the store keeps a message until every cursor of its queue took it.
  store_.create_cursor(outbox_queue(device), cursor(),
                       from_store<core::Seq>([this, device, append, stored,
                                              m = std::move(message)](auto pos) mutable {
                         if (!pos) {
                           core::log_warn(kLog, "cannot keep a cloud-to-device message for '" +
                                                    device + "': " + pos.error().message());
                           stored(false);
                           return;
                         }
                         Outbox& box = outboxes_[device];
                         if (!box.open) {
                           box.open = true;
                           box.next = *pos;
                           box.end = std::max(box.end, *pos);
                         }
                         append(std::move(m));
                       }));
}

void Forwarder::open_outbox(const std::string& device) {
  store_.create_cursor(outbox_queue(device), cursor(),
                       from_store<core::Seq>([this, device](auto pos) {
                         if (!pos) return;  // the next scan tries again
                         Outbox& box = outboxes_[device];
                         if (box.open) return;
                         box.open = true;
                         box.next = *pos;
                         box.end = std::max(box.end, *pos);
                         offer_kept(device);
                       }));
}

void Forwarder::offer_kept(const std::string& device) {
  auto it = outboxes_.find(device);
  if (stopped_ || it == outboxes_.end() || !options_.deliver_c2d) return;
  Outbox& box = it->second;
  if (!box.open || box.offering || box.next >= box.end) return;
  box.offering = true;
  core::ReadRequest r;
  r.from = box.next;
  r.max_messages = 1;
  store_.read(outbox_queue(device), r, from_store<core::ReadResult>([this, device](auto result) {
    Outbox& box = outboxes_[device];
    if (!result || result->messages.empty()) {
      box.offering = false;
      if (result) {
        box.next = std::max(box.next, result->next);  // purged meanwhile
      } else {
        retry_kept(device);
      }
      return;
    }
    core::StoredMessage m = std::move(result->messages.front());
    box.next = m.seq;
    core::Seq seq = m.seq;
    auto watch = core::DeliveryWatch::make(
        [this, device, seq, loop = &loop_, alive = std::weak_ptr<bool>(alive_)](core::Outcome o) {
          loop->post([this, device, seq, o, alive] {
            if (alive.lock()) kept_taken(device, seq, o);
          });
        });
    options_.deliver_c2d(std::move(m.message), watch,
                         [this, device, watch, loop = &loop_,
                          alive = std::weak_ptr<bool>(alive_)](core::Status status) {
                           if (status.ok()) {
                             watch->close();
                             return;
                           }
                           watch->cancel();  // not there yet: offered again on subscribe
                           loop->post([this, device, alive] {
                             if (alive.lock()) retry_kept(device);
                           });
                         });
  }));
}

void Forwarder::kept_taken(const std::string& device, core::Seq seq, core::Outcome outcome) {
  Outbox& box = outboxes_[device];
  if (outcome != core::Outcome::kAccepted && outcome != core::Outcome::kRejected) {
    retry_kept(device);  // released, or the device left before answering
    return;
  }
  if (outcome == core::Outcome::kAccepted) {
    ++stats_.c2d_delivered;
  } else {
    ++stats_.c2d_rejected;
    core::log(core::LogLevel::kInfo, kLog,
              "cloud-to-device message for '" + device +
                  "' rejected by the device (complete at the hub already: dropped)",
              "c2d-rejected");
  }
  box.offering = false;
  box.next = seq + 1;
  store_.commit(outbox_queue(device), cursor(), seq, from_store<core::Seq>([](auto) {}));
  offer_kept(device);
}

void Forwarder::retry_kept(const std::string& device) {
  Outbox& box = outboxes_[device];
  box.offering = false;
  if (box.retry_timer != 0 || stopped_) return;
  box.retry_timer = loop_.add_timer(options_.c2d_retry, [this, device] {
    outboxes_[device].retry_timer = 0;
    offer_kept(device);
  });
}

}  // namespace holdfast::bridge
