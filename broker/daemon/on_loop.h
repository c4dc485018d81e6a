#pragma once
// on_loop(): for admin threads, which may block, to read io-thread state.

#include <chrono>
#include <future>
#include <memory>
#include <optional>

#include "broker/core/event_loop.h"

namespace holdfast::daemon {

// Runs `fn` on the io loop and waits for its result; nullopt if the loop does not answer within
// two seconds (e.g. shutting down). Never call it on the io thread.
template <typename Fn>
auto on_loop(core::EventLoop& loop, Fn fn) -> std::optional<decltype(fn())> {
  auto promise = std::make_shared<std::promise<decltype(fn())>>();
  auto future = promise->get_future();
  loop.post([promise, fn = std::move(fn)]() mutable { promise->set_value(fn()); });
  if (future.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace holdfast::daemon
