#include "broker/core/queue_store.h"

#include <gtest/gtest.h>

#include <thread>

namespace holdfast::core {
namespace {

TEST(CallSync, ReturnsWhatTheCallbackGotOnAnotherThread) {
  std::thread worker;
  auto result = call_sync<int>([&](Callback<int> done) {
    worker = std::thread([done = std::move(done)]() mutable { done(42); });
  });
  worker.join();
  ASSERT_TRUE(result);
  EXPECT_EQ(*result, 42);
}

TEST(CallSync, PassesErrorsThrough) {
  auto result =
      call_sync<void>([](Callback<void> done) { done(error(Code::kNotFound, "no queue 'x'")); });
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code(), Code::kNotFound);
}

}  // namespace
}  // namespace holdfast::core
