#include "protocols/coap/rate_limiter.h"

#include <gtest/gtest.h>

namespace holdfast::coap {
namespace {

using namespace std::chrono_literals;
using Clock = RateLimiter::Clock;

TEST(RateLimiter, ZeroAdmitsEverything) {
  RateLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limiter.admit("a", Clock::time_point{}), 0ms);
}

TEST(RateLimiter, ABurstOfOneSecondThenTheRefillRate) {
  RateLimiter limiter(4);
  Clock::time_point t0{};
  for (int i = 0; i < 4; ++i) EXPECT_EQ(limiter.admit("a", t0), 0ms) << i;
  EXPECT_EQ(limiter.admit("a", t0), 250ms) << "a token comes every 250 ms";
  EXPECT_EQ(limiter.admit("b", t0), 0ms) << "sources are limited separately";
  EXPECT_GT(limiter.admit("a", t0 + 200ms), 0ms);
  EXPECT_EQ(limiter.admit("a", t0 + 250ms), 0ms);
  EXPECT_GT(limiter.admit("a", t0 + 250ms), 0ms);
}

TEST(RateLimiter, FullBucketsAreForgotten) {
  RateLimiter limiter(10);
  Clock::time_point t0{};
  for (int i = 0; i < 50; ++i) EXPECT_EQ(limiter.admit(std::to_string(i), t0), 0ms);
  EXPECT_EQ(limiter.sources(), 50u);
  EXPECT_EQ(limiter.admit("new", t0 + 11s), 0ms);
  EXPECT_EQ(limiter.sources(), 1u);
}

}  // namespace
}  // namespace holdfast::coap
