#include "protocols/coap/exchange_cache.h"

namespace holdfast::coap {

std::string ExchangeCache::key(std::string_view peer, std::uint16_t mid) {
  std::string k(peer);
  k.push_back('#');
  k.push_back(static_cast<char>(mid >> 8));
  k.push_back(static_cast<char>(mid & 0xff));
  return k;
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
  std::string k = key(peer, mid);
  auto expires = now + lifetime_;
  if (auto it = entries_.find(k); it != entries_.end()) drop_body(it);
  bool has_body = answer.body != nullptr;
  if (has_body) body_bytes_ += answer.body->size();
  entries_[k] = Entry{std::move(answer), expires};
  if (has_body) bodies_.emplace_back(expires, k);
  order_.emplace_back(expires, std::move(k));
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
