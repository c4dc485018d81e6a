#include "protocols/coap/exchange_cache.h"

#include <cstring>
#include <functional>

namespace holdfast::coap {

ExchangeCache::Key ExchangeCache::key(std::string_view peer, std::uint16_t mid) {
  Key k;
  k.mid = mid;
  if (peer.size() <= Key::kPeerBytes) {
    std::memcpy(k.peer.data(), peer.data(), peer.size());
    k.length = static_cast<std::uint8_t>(peer.size());
  } else {
    std::size_t h = std::hash<std::string_view>{}(peer);
    constexpr std::size_t kKept = Key::kPeerBytes - sizeof h;
    std::memcpy(k.peer.data(), peer.data(), kKept);
    std::memcpy(k.peer.data() + kKept, &h, sizeof h);
    k.length = 0xff;
  }
  return k;
}

std::size_t ExchangeCache::KeyHash::operator()(const Key& k) const noexcept {
  // FNV-1a over the bytes that matter.
  std::uint64_t h = 14695981039346656037ull;
  auto mix = [&h](unsigned char byte) { h = (h ^ byte) * 1099511628211ull; };
  std::size_t n = k.length == 0xff ? Key::kPeerBytes : k.length;
  for (std::size_t i = 0; i < n; ++i) mix(static_cast<unsigned char>(k.peer[i]));
  mix(static_cast<unsigned char>(k.mid >> 8));
  mix(static_cast<unsigned char>(k.mid & 0xff));
  return static_cast<std::size_t>(h);
}

std::optional<ExchangeCache::Answer> ExchangeCache::find(std::string_view peer, std::uint16_t mid,
                                                         Clock::time_point now) {
  expire(now);
  auto it = entries_.find(key(peer, mid));
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.answer;
}

void ExchangeCache::remember(std::string_view peer, std::uint16_t mid, Answer answer,
                             Clock::time_point now) {
  expire(now);
  if (max_entries_ == 0) return;
  Key k = key(peer, mid);
  auto expires = now + lifetime_;
  bool has_body = answer.body != nullptr;
  if (has_body) body_bytes_ += answer.body->size();
  auto [it, inserted] = entries_.try_emplace(k);
  if (!inserted) drop_body(it);
  it->second = Entry{std::move(answer), expires};
  if (has_body) bodies_.emplace_back(expires, k);
  order_.emplace_back(expires, k);
  while (entries_.size() > max_entries_ && !order_.empty()) {
    auto& [when, oldest] = order_.front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second.expires == when) erase(it);
    order_.pop_front();
  }
  while (body_bytes_ > max_body_bytes_ && !bodies_.empty()) {
    auto& [when, oldest] = bodies_.front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second.expires == when) drop_body(it);
    bodies_.pop_front();
  }
}

void ExchangeCache::expire(Clock::time_point now) {
  while (!order_.empty() && order_.front().first <= now) {
    auto it = entries_.find(order_.front().second);
    // A key remembered again later has a later expiry: only the newest record removes it.
    if (it != entries_.end() && it->second.expires <= now) erase(it);
    order_.pop_front();
  }
  while (!bodies_.empty() && bodies_.front().first <= now) bodies_.pop_front();
}

void ExchangeCache::erase(Entries::iterator it) {
  if (it->second.answer.body) body_bytes_ -= it->second.answer.body->size();
  entries_.erase(it);
}

void ExchangeCache::drop_body(Entries::iterator it) {
  Answer& a = it->second.answer;
  if (!a.body) return;
  body_bytes_ -= a.body->size();
  a.body.reset();
  a.body_dropped = true;
}

}  // namespace holdfast::coap
