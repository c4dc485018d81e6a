#pragma once
// DeviceTracker: the devices holdfastd has heard from — when each was last seen, over which
// protocol, and where its messages go — for `holdfastctl devices` (GET /api/devices).
//
// Operation
//   An Ingress in front of the router: every message an adapter submits is noted (its origin's
//   device id, else the device its IoT Hub address names; messages of no device are not
//   tracked) and passed on unchanged. At most `capacity` devices are kept: a new device beyond
//   that evicts the one seen longest ago.
//
// Concurrency: io thread only (submit() and devices()); the admin endpoint posts to the loop to
// read it. Never blocks. In memory only: a restart starts with no device seen.

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <unordered_map>
#include <vector>

#include "broker/core/ingress.h"

namespace holdfast::daemon {

class DeviceTracker final : public core::Ingress {
 public:
  struct Device {
    std::string id;
    core::Origin origin;       // of its latest message: protocol, client id
    std::string last_address;  // of its latest message: the routes name its queues from it
    std::int64_t last_seen_ms = 0;
    std::uint64_t messages = 0;  // submitted since holdfastd started (or since it was evicted)
  };

  // `next` (the router) must outlive the tracker.
  DeviceTracker(core::Ingress& next, std::size_t capacity) : next_(next), capacity_(capacity) {}

  void submit(core::Message message, core::PublishOptions options,
              core::Callback<void> done) override;

  // Io thread: every tracked device, most recently seen first.
  std::vector<Device> devices() const;
  std::size_t capacity() const { return capacity_; }
  std::uint64_t evicted() const { return evicted_; }

 private:
  core::Ingress& next_;
  std::size_t capacity_;
  std::list<Device> recent_;  // most recently seen first
  std::unordered_map<std::string, std::list<Device>::iterator> by_id_;
  std::uint64_t evicted_ = 0;
};

}  // namespace holdfast::daemon
