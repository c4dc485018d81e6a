#include "protocols/coap/rate_limiter.h"

#include <algorithm>
#include <cmath>

namespace holdfast::coap {

std::chrono::milliseconds RateLimiter::admit(std::string_view source, Clock::time_point now) {
  if (per_second_ == 0) return std::chrono::milliseconds(0);
  if (now - last_sweep_ > std::chrono::seconds(10)) forget_full(now);
  const double capacity = per_second_;
  auto [it, fresh] = buckets_.try_emplace(std::string(source), Bucket{capacity, now});
  Bucket& b = it->second;
  if (!fresh) {
    double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(capacity, b.tokens + std::max(0.0, elapsed) * per_second_);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::chrono::milliseconds(0);
  }
  double wait_s = (1.0 - b.tokens) / per_second_;
  auto wait = std::chrono::milliseconds(static_cast<std::int64_t>(std::ceil(wait_s * 1000)));
  return std::max(wait, std::chrono::milliseconds(1));
}

void RateLimiter::forget_full(Clock::time_point now) {
  last_sweep_ = now;
  std::erase_if(buckets_, [&](const auto& entry) {
    double elapsed = std::chrono::duration<double>(now - entry.second.updated).count();
    return entry.second.tokens + elapsed * per_second_ >= per_second_;
  });
}

}  // namespace holdfast::coap
