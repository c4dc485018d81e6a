#pragma once
// DeliveryWatch: how the live receivers of a message dealt with it, for a publisher that must
// answer for the message elsewhere. The bridge uses it to complete, reject or abandon a
// cloud-to-device message at IoT Hub according to what the device did with it.
//
// Operation
//   The publisher makes a watch with a report function and passes it in PublishOptions::watch.
//   A subscriber that settles the message later (an MQTT QoS 1 session, an AMQP receiver on an
//   unsettled link) takes a Claim while deliver() runs and settles it when its client answers:
//     accepted -> reported accepted at once (the first accepted or rejected is the outcome)
//     rejected -> reported rejected at once
//     released, modified -> this claim ends without an outcome
//   A claim dropped unsettled (the session ended, the link detached, the buffer overflowed)
//   ends without an outcome too. A subscriber that takes no claim has taken the message as it
//   was handed over (QoS 0, CoAP observers): the router accepts for it, as it does for a message
//   appended to a routed queue or to an offline session's queue (custody: the broker delivers
//   it from the store).
//   Once the publisher called close() (its submit finished) and no claim is open, a watch that
//   reported nothing reports released. The report runs at most once; cancel() suppresses it.
//
// Concurrency: io thread only. The report runs on the io thread and must hand over to the
// publisher's own thread if it has one.
#include <cstddef>
#include <functional>
#include <memory>

#include "broker/core/consumers.h"

namespace holdfast::core {

class DeliveryWatch;

// One receiver's pending answer for a watched message. Move-only; destroyed unsettled = released.
class DeliveryClaim {
 public:
  DeliveryClaim() = default;
  DeliveryClaim(DeliveryClaim&& other) noexcept = default;
  DeliveryClaim& operator=(DeliveryClaim&& other) noexcept;
  DeliveryClaim(const DeliveryClaim&) = delete;
  DeliveryClaim& operator=(const DeliveryClaim&) = delete;
  ~DeliveryClaim();

  explicit operator bool() const { return watch_ != nullptr; }
  // Ends the claim with the receiver's outcome. No-op on an empty or ended claim.
  void settle(Outcome outcome);

 private:
  friend class DeliveryWatch;
  explicit DeliveryClaim(std::shared_ptr<DeliveryWatch> watch) : watch_(std::move(watch)) {}
  std::shared_ptr<DeliveryWatch> watch_;
};

class DeliveryWatch : public std::enable_shared_from_this<DeliveryWatch> {
 public:
  using Report = std::function<void(Outcome)>;
  static std::shared_ptr<DeliveryWatch> make(Report report) {
    return std::shared_ptr<DeliveryWatch>(new DeliveryWatch(std::move(report)));
  }

  // A receiver that will answer later.
  DeliveryClaim claim();
  // Someone took the message without a claim (see above): reported accepted.
  void accept() { report(Outcome::kAccepted); }
  // The publisher's submit finished: with no claim open, the outcome is known now.
  void close();
  // The publisher no longer wants a report (e.g. it gave up on the message itself).
  void cancel() { reported_ = true; }

  std::size_t claims_taken() const { return claims_taken_; }
  bool reported() const { return reported_; }

 private:
  friend class DeliveryClaim;
  explicit DeliveryWatch(Report report) : report_(std::move(report)) {}
  void report(Outcome outcome);
  void claim_ended(Outcome outcome);

  Report report_;
  std::size_t open_claims_ = 0;
  std::size_t claims_taken_ = 0;
  bool closed_ = false;
  bool reported_ = false;
};

}  // namespace holdfast::core
