#include "protocols/coap/exchange_cache.h"

namespace holdfast::coap {

std::string ExchangeCache::key(std::string_view peer, std::uint16_t mid) {
  std::string k(peer);
  k.push_back('#');
  k.push_back(static_cast<char>(mid >> 8));
  k.push_back(static_cast<char>(mid & 0xff));
  return k;
}

std::optional<ResponseCode> ExchangeCache::find(std::string_view peer, std::uint16_t mid,
                                                Clock::time_point now) {
  expire(now);
  auto it = entries_.find(key(peer, mid));
  if (it == entries_.end() || it->second.expires <= now) return std::nullopt;
  return it->second.code;
}

void ExchangeCache::remember(std::string_view peer, std::uint16_t mid, ResponseCode code,
                             Clock::time_point now) {
  expire(now);
  if (max_entries_ == 0) return;
  std::string k = key(peer, mid);
  auto expires = now + lifetime_;
  entries_[k] = Entry{code, expires};
  order_.emplace_back(expires, std::move(k));
  while (entries_.size() > max_entries_ && !order_.empty()) {
    auto& [when, oldest] = order_.front();
    auto it = entries_.find(oldest);
    if (it != entries_.end() && it->second.expires == when) entries_.erase(it);
    order_.pop_front();
  }
}

void ExchangeCache::expire(Clock::time_point now) {
  while (!order_.empty() && order_.front().first <= now) {
    auto it = entries_.find(order_.front().second);
    // A key remembered again later has a later expiry: only the newest record removes it.
    if (it != entries_.end() && it->second.expires <= now) entries_.erase(it);
    order_.pop_front();
  }
}

}  // namespace holdfast::coap
