#include "broker/core/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace holdfast::core {
namespace {
constexpr std::uint64_t kWakeKey = ~std::uint64_t{0};
std::uint64_t key(int fd, std::uint32_t generation) {
  return (std::uint64_t{generation} << 32) | static_cast<std::uint32_t>(fd);
}
Status errno_status(const char* what) {
  return {Code::kIoError, std::string(what) + ": " + std::strerror(errno)};
}
}  // namespace

EventLoop::EventLoop() : thread_id_(std::this_thread::get_id()) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    status_ = errno_status("epoll_create1");
    return;
  }
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    status_ = errno_status("eventfd");
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev) != 0) status_ = errno_status("epoll_ctl");
}

EventLoop::~EventLoop() {
  if (wake_fd_ >= 0) close(wake_fd_);
  if (epoll_fd_ >= 0) close(epoll_fd_);
}

void EventLoop::stop() {
  {
    std::lock_guard lock(mu_);
    stop_requested_ = true;
  }
  std::uint64_t one = 1;
  ssize_t n = write(wake_fd_, &one, sizeof one);
  (void)n;  // a full eventfd counter already wakes the loop
}

void EventLoop::post(Task task) {
  bool wake;
  {
    std::lock_guard lock(mu_);
    wake = posted_.empty();
    posted_.push_back(std::move(task));
  }
  // The loop's own thread checks posted_ before it waits (run()): no wake-up needed.
  if (wake && !in_loop_thread()) {
    std::uint64_t one = 1;
    ssize_t n = write(wake_fd_, &one, sizeof one);
    (void)n;
  }
}

Status EventLoop::add(int fd, std::uint32_t events, IoHandler handler) {
  auto watch = std::make_shared<Watch>();
  watch->handler = std::move(handler);
  watch->generation = next_generation_++;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key(fd, watch->generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return errno_status("epoll_ctl add");
  watches_[fd] = std::move(watch);
  return {};
}

Status EventLoop::modify(int fd, std::uint32_t events) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return {Code::kNotFound, "fd is not watched"};
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = key(fd, it->second->generation);
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) != 0) return errno_status("epoll_ctl mod");
  return {};
}

void EventLoop::remove(int fd) {
  auto it = watches_.find(fd);
  if (it == watches_.end()) return;
  it->second->active = false;  // a handler running right now keeps its Watch alive
  watches_.erase(it);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

EventLoop::TimerId EventLoop::add_timer(std::chrono::milliseconds delay, Task task) {
  TimerId id = next_timer_id_++;
  timer_heap_.push({Clock::now() + delay, id});
  timers_.emplace(id, std::move(task));
  return id;
}

void EventLoop::cancel_timer(TimerId id) {
  timers_.erase(id);
}

int EventLoop::next_timeout_ms() const {
  if (timer_heap_.empty()) return -1;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(timer_heap_.top().due - Clock::now());
  return wait.count() < 0 ? 0 : static_cast<int>(std::min<std::int64_t>(wait.count(), 60'000));
}

void EventLoop::run_due_timers() {
  auto now = Clock::now();
  while (!timer_heap_.empty() && timer_heap_.top().due <= now) {
    TimerId id = timer_heap_.top().id;
    timer_heap_.pop();
    auto it = timers_.find(id);
    if (it == timers_.end()) continue;  // cancelled
    Task task = std::move(it->second);
    timers_.erase(it);
    task();
  }
}

void EventLoop::run_posted() {
  std::vector<Task> tasks;
  {
    std::lock_guard lock(mu_);
    tasks.swap(posted_);
    if (stop_requested_) stopping_ = true;
  }
  for (auto& task : tasks) task();
}

void EventLoop::run() {
  thread_id_ = std::this_thread::get_id();
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  while (!stopping_) {
    int timeout = next_timeout_ms();
    {
      std::lock_guard lock(mu_);
      if (!posted_.empty()) timeout = 0;  // posted from this thread, without a wake-up
    }
    int n = epoll_wait(epoll_fd_, events, kMaxEvents, timeout);
    if (n < 0 && errno != EINTR) {
      status_ = errno_status("epoll_wait");
      return;
    }
    for (int i = 0; i < n; ++i) {
      std::uint64_t k = events[i].data.u64;
      if (k == kWakeKey) {
        std::uint64_t count;
        ssize_t r = read(wake_fd_, &count, sizeof count);
        (void)r;
        continue;
      }
      auto it = watches_.find(static_cast<int>(k & 0xffffffffu));
      if (it == watches_.end() || it->second->generation != (k >> 32)) continue;
      std::shared_ptr<Watch> watch = it->second;  // survives remove() inside the handler
      if (watch->active) watch->handler(events[i].events);
    }
    run_due_timers();
    run_posted();
  }
  // Ready to run() again (tests and tools drive one loop in several runs).
  std::lock_guard lock(mu_);
  stopping_ = false;
  stop_requested_ = false;
}

}  // namespace holdfast::core
