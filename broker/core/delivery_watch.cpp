#include "broker/core/delivery_watch.h"

namespace holdfast::core {

DeliveryClaim& DeliveryClaim::operator=(DeliveryClaim&& other) noexcept {
  if (this != &other) {
    settle(Outcome::kReleased);
    watch_ = std::move(other.watch_);
  }
  return *this;
}

DeliveryClaim::~DeliveryClaim() {
  settle(Outcome::kReleased);
}

void DeliveryClaim::settle(Outcome outcome) {
  if (!watch_) return;
  std::shared_ptr<DeliveryWatch> watch = std::move(watch_);
  watch_.reset();
  watch->claim_ended(outcome);
}

DeliveryClaim DeliveryWatch::claim() {
  ++open_claims_;
  ++claims_taken_;
  return DeliveryClaim(shared_from_this());
}

void DeliveryWatch::close() {
  closed_ = true;
  if (open_claims_ == 0) report(Outcome::kReleased);
}

void DeliveryWatch::report(Outcome outcome) {
  if (reported_) return;
  reported_ = true;
  if (report_) report_(outcome);
}

void DeliveryWatch::claim_ended(Outcome outcome) {
  --open_claims_;
  if (outcome == Outcome::kAccepted || outcome == Outcome::kRejected) {
    report(outcome);
  } else if (closed_ && open_claims_ == 0) {
    report(Outcome::kReleased);
  }
}

}  // namespace holdfast::core
