#pragma once
// ExchangeCache: the answers given to recent requests, so that a retransmitted duplicate (same
// message-id from the same endpoint) is answered again instead of being stored twice.
//
// Operation
//   An entry is (source endpoint, message-id) -> the response code sent. It lives for the
//   exchange lifetime (RFC 7252 4.8.2: 247 s), after which the client has given up on that
//   message-id. When more than `max_entries` are remembered the oldest are forgotten first:
//   the bound keeps memory constant under a flood, at the price of a duplicate stored twice if
//   it arrives after so many newer requests.
//
//   Duplicates that arrive while the first copy waits for the store never reach this cache:
//   libcoap keeps the pending request (its async state) and acknowledges them itself.
//
// Concurrency: io thread only; never blocks.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/coap/errors.h"

namespace holdfast::coap {

class ExchangeCache {
 public:
  using Clock = std::chrono::steady_clock;

  ExchangeCache(std::chrono::seconds lifetime, std::size_t max_entries)
      : lifetime_(lifetime), max_entries_(max_entries) {}

  // The response given to `mid` from `peer` less than a lifetime ago, if any.
  std::optional<ResponseCode> find(std::string_view peer, std::uint16_t mid, Clock::time_point now);
  // Remembers the response given to `mid` from `peer` (replacing an earlier one).
  void remember(std::string_view peer, std::uint16_t mid, ResponseCode code, Clock::time_point now);
  std::size_t size() const { return entries_.size(); }

 private:
  static std::string key(std::string_view peer, std::uint16_t mid);
  void expire(Clock::time_point now);

  struct Entry {
    ResponseCode code;
    Clock::time_point expires;
  };
  std::chrono::seconds lifetime_;
  std::size_t max_entries_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<Clock::time_point, std::string>> order_;  // by expiry (= insertion)
};

}  // namespace holdfast::coap
