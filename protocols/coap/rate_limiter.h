#pragma once
// RateLimiter: requests per second per source IP address, as a token bucket per address.
//
// Operation
//   Each source starts with a full bucket of `per_second` tokens that refills continuously at
//   `per_second` tokens a second; a request takes one token. Without a token the request is
//   refused and the caller learns how long until one is there (the Max-Age of a 4.29).
//   Buckets that are full again are forgotten, so memory follows the active sources only.
//   `per_second` 0 admits everything.
//
// Concurrency: io thread only; never blocks.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace holdfast::coap {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(std::uint32_t per_second) : per_second_(per_second) {}

  // Zero if a request from `source` may proceed now (a token is taken); otherwise the time
  // until the next token, at least 1 ms.
  std::chrono::milliseconds admit(std::string_view source, Clock::time_point now);
  std::size_t sources() const { return buckets_.size(); }

 private:
  void forget_full(Clock::time_point now);

  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  std::uint32_t per_second_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_sweep_{};
};

}  // namespace holdfast::coap
