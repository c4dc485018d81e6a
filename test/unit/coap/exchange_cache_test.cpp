#include "protocols/coap/exchange_cache.h"

#include <gtest/gtest.h>

namespace holdfast::coap {
namespace {

using namespace std::chrono_literals;
using Clock = ExchangeCache::Clock;

TEST(ExchangeCache, AnswersTheSamePeerAndMessageIdWithinTheLifetime) {
  ExchangeCache cache(247s, 100);
  Clock::time_point t0{};
  EXPECT_FALSE(cache.find("1.2.3.4:5683", 7, t0));
  cache.remember("1.2.3.4:5683", 7, kCreated, t0);
  EXPECT_EQ(cache.find("1.2.3.4:5683", 7, t0 + 246s)->code, kCreated);
  EXPECT_FALSE(cache.find("1.2.3.4:5683", 8, t0)) << "another message-id";
  EXPECT_FALSE(cache.find("1.2.3.4:5684", 7, t0)) << "another endpoint";
  EXPECT_FALSE(cache.find("1.2.3.4:5683", 7, t0 + 247s)) << "expired";
  EXPECT_EQ(cache.size(), 0u);
}

TEST(ExchangeCache, RememberingAgainExtendsAndTheOldRecordDoesNotExpireIt) {
  ExchangeCache cache(10s, 100);
  Clock::time_point t0{};
  cache.remember("p", 1, kCreated, t0);
  cache.remember("p", 1, kServiceUnavailable, t0 + 5s);
  EXPECT_EQ(cache.find("p", 1, t0 + 12s)->code, kServiceUnavailable);
  EXPECT_FALSE(cache.find("p", 1, t0 + 15s));
}

TEST(ExchangeCache, TheOldestAreForgottenBeyondTheBound) {
  ExchangeCache cache(100s, 3);
  Clock::time_point t0{};
  for (std::uint16_t mid = 0; mid < 5; ++mid) cache.remember("p", mid, kCreated, t0);
  EXPECT_EQ(cache.size(), 3u);
  EXPECT_FALSE(cache.find("p", 0, t0));
  EXPECT_FALSE(cache.find("p", 1, t0));
  EXPECT_TRUE(cache.find("p", 4, t0));
}

TEST(ExchangeCache, MessageIdsDoNotCollideAcrossPeersSharingAPrefix) {
  ExchangeCache cache(100s, 10);
  Clock::time_point t0{};
  cache.remember("10.0.0.1:1", 0x2331, kCreated, t0);  // '#' is 0x23
  EXPECT_FALSE(cache.find("10.0.0.1:1#", 0x3100, t0));
}

TEST(ExchangeCache, KeepsTheBodyOfAnAnswerThatMustNotBeProducedTwice) {
  ExchangeCache cache(100s, 10, 1000);
  Clock::time_point t0{};
  auto body = std::make_shared<const std::string>(600, 'x');
  cache.remember("p", 1, ExchangeCache::Answer{kContent, body, 42, false}, t0);
  auto again = cache.find("p", 1, t0 + 1s);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->code, kContent);
  EXPECT_EQ(again->body, body);
  EXPECT_EQ(again->format, 42);
  EXPECT_EQ(cache.body_bytes(), 600u);
}

TEST(ExchangeCache, TheOldestBodiesAreDroppedBeyondTheByteBoundAndTheirCodesKept) {
  ExchangeCache cache(100s, 10, 1000);
  Clock::time_point t0{};
  for (std::uint16_t mid = 0; mid < 3; ++mid) {
    cache.remember(
        "p", mid,
        ExchangeCache::Answer{kContent, std::make_shared<const std::string>(400, 'x'), 0, false},
        t0);
  }
  EXPECT_EQ(cache.body_bytes(), 800u);
  auto first = cache.find("p", 0, t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->code, kContent);
  EXPECT_EQ(first->body, nullptr);
  EXPECT_TRUE(first->body_dropped);
  EXPECT_NE(cache.find("p", 2, t0)->body, nullptr);
}

TEST(ExchangeCache, ForgettingAnEntryReleasesItsBodyBytes) {
  ExchangeCache cache(10s, 2, 1000);
  Clock::time_point t0{};
  cache.remember(
      "p", 1,
      ExchangeCache::Answer{kContent, std::make_shared<const std::string>(100, 'x'), 0, false}, t0);
  cache.remember("p", 2, kCreated, t0);
  cache.remember("p", 3, kCreated, t0);  // evicts mid 1
  EXPECT_EQ(cache.body_bytes(), 0u);
  cache.remember(
      "p", 4,
      ExchangeCache::Answer{kContent, std::make_shared<const std::string>(100, 'x'), 0, false}, t0);
  EXPECT_FALSE(cache.find("p", 4, t0 + 10s));  // expired
  EXPECT_EQ(cache.body_bytes(), 0u);
}

}  // namespace
}  // namespace holdfast::coap
