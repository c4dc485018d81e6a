#pragma once
// Fifo: a first-in first-out queue on one vector. Unlike std::deque (which allocates a map
// and a 512-byte node as soon as it is constructed), an empty Fifo owns no memory, so the
// thousands of idle connections and sessions a gateway holds cost nothing for their queues.
// Popping is amortized O(1): the consumed prefix is dropped once it is half the vector.
//
// Concurrency: none; one owner.

#include <cstddef>
#include <utility>
#include <vector>

namespace holdfast::core {

template <typename T>
class Fifo {
 public:
  bool empty() const { return head_ == items_.size(); }
  std::size_t size() const { return items_.size() - head_; }
  T& front() { return items_[head_]; }
  const T& front() const { return items_[head_]; }
  // The i-th element from the front.
  T& operator[](std::size_t i) { return items_[head_ + i]; }
  void push_back(T value) { items_.push_back(std::move(value)); }

  void pop_front() {
    items_[head_] = T();  // release what the element holds now
    if (++head_ == items_.size()) {
      items_.clear();
      head_ = 0;
      if (items_.capacity() > kKeepCapacity) items_.shrink_to_fit();
    } else if (head_ >= kCompactAfter && head_ * 2 >= items_.size()) {
      items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
      head_ = 0;
    }
  }

 private:
  static constexpr std::size_t kKeepCapacity = 256;
  static constexpr std::size_t kCompactAfter = 64;
  std::vector<T> items_;
  std::size_t head_ = 0;
};

}  // namespace holdfast::core
