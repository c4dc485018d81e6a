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
  core::log_info(kLog, "device '" + device + "' subscribed to its cloud-to-device messages: "
                           "receiving them from upstream '" + options_.upstream + "'");
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
  offer_c2d(device, id, std::move(m));
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
            // Nobody subscribed yet: keep it locked at the hub and offer it again later.
            loop_.add_timer(options_.c2d_retry, [this, hub, device, id, message = std::move(message),
                                                 alive = std::weak_ptr<bool>(alive_)]() mutable {
              if (alive.lock() && hub_.get() == hub) offer_c2d(device, id, std::move(message));
            });
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

}  // namespace holdfast::bridge
