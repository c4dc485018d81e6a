#include "broker/core/event_loop.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <future>
#include <string>
#include <thread>

namespace holdfast::core {
namespace {

TEST(EventLoop, RunsPostedTasksInOrderThenStops) {
  EventLoop loop;
  ASSERT_TRUE(loop.status().ok());
  std::string order;
  std::thread poster([&] {
    for (char c : std::string("abc")) loop.post([&order, c] { order.push_back(c); });
    loop.post([&] { loop.stop(); });
  });
  loop.run();
  poster.join();
  EXPECT_EQ(order, "abc");
}

TEST(EventLoop, TimersFireByDeadlineAndCanBeCancelled) {
  EventLoop loop;
  std::string fired;
  loop.add_timer(std::chrono::milliseconds(20), [&] { fired += "late,"; });
  auto cancelled = loop.add_timer(std::chrono::milliseconds(10), [&] { fired += "never,"; });
  loop.add_timer(std::chrono::milliseconds(0), [&] { fired += "now,"; });
  loop.add_timer(std::chrono::milliseconds(30), [&] { loop.stop(); });
  loop.cancel_timer(cancelled);
  loop.run();
  EXPECT_EQ(fired, "now,late,");
}

TEST(EventLoop, ReadableDescriptorCallsItsHandlerAndMayRemoveItself) {
  EventLoop loop;
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  int calls = 0;
  ASSERT_TRUE(loop.add(fds[0], EPOLLIN,
                       [&](std::uint32_t events) {
                         EXPECT_TRUE(events & EPOLLIN);
                         char buf[8];
                         EXPECT_EQ(read(fds[0], buf, sizeof buf), 2);
                         ++calls;
                         loop.remove(fds[0]);
                         // Written after removal: must not call the handler again.
                         EXPECT_EQ(write(fds[1], "zz", 2), 2);
                         loop.add_timer(std::chrono::milliseconds(20), [&] { loop.stop(); });
                       })
                  .ok());
  ASSERT_EQ(write(fds[1], "hi", 2), 2);
  loop.run();
  EXPECT_EQ(calls, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST(EventLoop, ModifyOfAnUnwatchedDescriptorIsNotFound) {
  EventLoop loop;
  EXPECT_EQ(loop.modify(12345, EPOLLIN).code(), Code::kNotFound);
}

TEST(EventLoop, KnowsItsThread) {
  EventLoop loop;
  std::atomic<bool> inside{false}, outside{true};
  std::thread other([&] { outside = loop.in_loop_thread(); });
  other.join();
  loop.post([&] {
    inside = loop.in_loop_thread();
    loop.stop();
  });
  std::thread runner([&] { loop.run(); });
  runner.join();
  EXPECT_TRUE(inside);
  EXPECT_FALSE(outside);
}

TEST(EventLoop, ATaskPostedFromTheLoopThreadRunsWithoutAWakeUp) {
  // Posted from its own thread, post() skips the eventfd: the loop must still run the task
  // instead of sleeping in epoll_wait (no timer, no fd: it would sleep forever).
  EventLoop loop;
  std::promise<void> ran;
  std::atomic<int> chain{0};
  std::function<void()> step = [&] {
    if (++chain == 100) {
      ran.set_value();
      return;
    }
    loop.post(step);
  };
  std::thread runner([&] { loop.run(); });
  loop.post(step);
  auto done = ran.get_future();
  bool finished = done.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
  loop.stop();  // from outside: this one wakes the loop
  runner.join();
  EXPECT_TRUE(finished) << "the loop slept with " << chain.load() << " of 100 tasks run";
}

}  // namespace
}  // namespace holdfast::core
