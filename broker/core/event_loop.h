#pragma once
// EventLoop: the io thread. One epoll set, timers, and a queue of work posted by other threads.
//
// Operation
//   run() waits on epoll; ready file descriptors call their handlers, due timers fire, and
//   functions posted from other threads run, in that order, every turn. A handler may add,
//   modify or remove any descriptor (itself included) and add or cancel timers.
//
// Concurrency
//   Only post(), stop() and in_loop_thread() may be called from other threads. Everything else,
//   and every callback, runs on the loop's thread. Callbacks must never block: no disk, no
//   RocksDB, no waiting on other threads. Post results back instead.
//
// Limitations
//   Level-triggered epoll; timers have millisecond resolution.

#include <sys/epoll.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <queue>
#include <thread>
#include <unordered_map>
#include <vector>

#include "broker/core/status.h"

namespace holdfast::core {

class EventLoop {
 public:
  using Clock = std::chrono::steady_clock;
  using IoHandler = std::function<void(std::uint32_t events)>;  // EPOLLIN, EPOLLOUT, ...
  using Task = std::move_only_function<void()>;
  using TimerId = std::uint64_t;

  // Creates the epoll set and the wake-up eventfd. Errors are fatal to the daemon, so they are
  // reported by ok()/status() rather than thrown.
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  const Status& status() const { return status_; }

  // Runs until stop() is called; the calling thread becomes the loop's thread.
  void run();
  // Any thread. run() returns after finishing the current turn.
  void stop();
  // Any thread. Runs `task` on the loop's thread, in posting order. Posted from the loop's
  // own thread it costs no system call: the loop runs it before it waits again.
  void post(Task task);
  bool in_loop_thread() const { return std::this_thread::get_id() == thread_id_.load(); }

  // Loop thread. Watches `fd` for `events`; the handler stays until remove(fd).
  Status add(int fd, std::uint32_t events, IoHandler handler);
  Status modify(int fd, std::uint32_t events);
  // Loop thread. Stops watching `fd` (does not close it). Safe inside that fd's own handler.
  void remove(int fd);

  // Loop thread. Calls `task` once after `delay`. Returns an id for cancel_timer().
  TimerId add_timer(std::chrono::milliseconds delay, Task task);
  // Loop thread. Cancelling a fired or unknown timer is a no-op.
  void cancel_timer(TimerId id);

  Clock::time_point now() const { return Clock::now(); }

 private:
  struct Watch {
    IoHandler handler;
    std::uint32_t generation = 0;  // tells a reused fd number from the one an event was for
    bool active = true;
  };
  struct TimerEntry {
    Clock::time_point due;
    TimerId id;
    bool operator>(const TimerEntry& other) const {
      return due > other.due || (due == other.due && id > other.id);
    }
  };

  void run_due_timers();
  void run_posted();
  int next_timeout_ms() const;

  Status status_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  bool stopping_ = false;
  std::atomic<std::thread::id> thread_id_;
  std::unordered_map<int, std::shared_ptr<Watch>> watches_;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timer_heap_;
  std::unordered_map<TimerId, Task> timers_;
  TimerId next_timer_id_ = 1;
  std::uint32_t next_generation_ = 1;

  std::mutex mu_;  // guards posted_ and stop_requested_
  std::vector<Task> posted_;
  bool stop_requested_ = false;
};

}  // namespace holdfast::core
