#pragma once
// C2dQueues: the emulated hub's cloud-to-device queues, one per device (at most 50 messages, as
// IoT Hub keeps), served to the device's receiver on devices/{id}/messages/devicebound through
// the AMQP listener's ConsumerRegistry interface. The device's settlement is IoT Hub's:
// accepted = complete, released = abandon (redelivered), modified = abandon counting a delivery,
// rejected = dead-letter.
//
// Concurrency: the hub's loop thread only, except stats (atomics).
#include <atomic>
#include <deque>
#include <map>
#include <string>

#include "broker/core/consumers.h"
#include "broker/core/event_loop.h"

namespace holdfast::hubsim {

struct C2dStats {
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> completed{0};
  std::atomic<std::uint64_t> abandoned{0};
  std::atomic<std::uint64_t> rejected{0};
};

class C2dQueues final : public core::ConsumerRegistry {
 public:
  static constexpr std::size_t kMaxPerDevice = 50;

  explicit C2dQueues(core::EventLoop& loop) : loop_(loop) {}

  // Queues a message for `device`. Errors: kResourceExhausted when 50 are waiting already.
  core::Status send(const std::string& device, core::Message message);
  std::size_t waiting(const std::string& device) const;
  // Removes and returns the messages waiting for `device` (not those a receiver holds): an
  // MQTT device subscribed, and IoT Hub hands them over there.
  std::deque<core::Message> take_waiting(const std::string& device);
  const C2dStats& stats() const { return stats_; }

  bool is_queue(const std::string& address) const override;
  core::Status attach(const std::string& queue, core::QueueConsumer* consumer) override;
  void wake(core::QueueConsumer* consumer) override;
  void settle(core::QueueConsumer* consumer, core::Seq seq, core::Outcome outcome,
              const std::string& reason) override;
  void detach(core::QueueConsumer* consumer) override;

 private:
  struct Pending {
    core::Seq seq;
    std::uint32_t delivery_count;
    core::Message message;
  };
  struct Device {
    std::deque<Pending> waiting;
    std::map<core::Seq, Pending> unsettled;  // by seq, with who has it in `holder`
    std::map<core::Seq, core::QueueConsumer*> holder;
  };
  void schedule(const std::string& device);
  void pump(const std::string& device);

  core::EventLoop& loop_;
  std::map<std::string, Device> devices_;
  std::map<core::QueueConsumer*, std::string> consumers_;
  core::Seq next_seq_ = 1;
  C2dStats stats_;
};

}  // namespace holdfast::hubsim
