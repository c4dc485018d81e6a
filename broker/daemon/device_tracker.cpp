#include "broker/daemon/device_tracker.h"

#include "broker/core/address.h"

namespace holdfast::daemon {

void DeviceTracker::submit(core::Message message, core::PublishOptions options,
                           core::Callback<void> done) {
  std::string id = message.origin.device_id;
  if (id.empty()) {
    if (auto d = core::parse_device_address(message.address)) id = d->device_id;
  }
  if (!id.empty() && capacity_ > 0) {
    auto it = by_id_.find(id);
    if (it != by_id_.end()) {
      recent_.splice(recent_.begin(), recent_, it->second);  // to the front, iterators stay
    } else {
      if (by_id_.size() >= capacity_) {
        by_id_.erase(recent_.back().id);
        recent_.pop_back();
        ++evicted_;
      }
      recent_.push_front(Device{.id = id});
      by_id_.emplace(id, recent_.begin());
    }
    Device& d = recent_.front();
    d.last_address = message.address;
    d.origin = message.origin;
    d.last_seen_ms = core::now_ms();
    ++d.messages;
  }
  next_.submit(std::move(message), options, std::move(done));
}

std::vector<DeviceTracker::Device> DeviceTracker::devices() const {
  return {recent_.begin(), recent_.end()};
}

}  // namespace holdfast::daemon
