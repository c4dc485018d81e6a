#pragma once
// ExchangeCache: the answers given to recent requests, so that a retransmitted duplicate (same
// message-id from the same endpoint) is answered again instead of being acted on twice: an
// upload is not stored twice, a GET that took a message does not take another.
//
// Operation
//   An entry is (source endpoint, message-id) -> the answer sent: its response code and, for a
//   GET that took a message, the body and its Content-Format. It lives for the exchange
//   lifetime (RFC 7252 4.8.2: 247 s), after which the client has given up on that message-id.
//   When more than `max_entries` are remembered the oldest are forgotten first: the bound keeps
//   memory constant under a flood, at the price of a duplicate acted on twice if it arrives
//   after so many newer requests. Bodies are kept up to `max_body_bytes` in total; beyond,
//   the oldest bodies are dropped (their entries keep the code: see Answer::body).
//
//   Duplicates that arrive while the first copy is still being answered never reach this
//   cache: the server knows them by its pending exchanges (CoapServer::defer).
//
// Concurrency: io thread only; never blocks.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/coap/errors.h"

namespace holdfast::coap {

class ExchangeCache {
 public:
  using Clock = std::chrono::steady_clock;

  // What a request was answered with.
  struct Answer {
    ResponseCode code;
    // The body of a GET answer that must not be produced again (a taken message); null when
    // there was none, or when it was dropped to respect max_body_bytes (`body_dropped`).
    std::shared_ptr<const std::string> body;
    std::uint16_t format = 0;  // Content-Format of `body`
    bool body_dropped = false;
  };

  ExchangeCache(std::chrono::seconds lifetime, std::size_t max_entries,
                std::size_t max_body_bytes = 8 * 1024 * 1024)
      : lifetime_(lifetime), max_entries_(max_entries), max_body_bytes_(max_body_bytes) {}

  // The answer given to `mid` from `peer` less than a lifetime ago, if any.
  std::optional<Answer> find(std::string_view peer, std::uint16_t mid, Clock::time_point now);
  // Remembers the answer given to `mid` from `peer` (replacing an earlier one).
  void remember(std::string_view peer, std::uint16_t mid, Answer answer, Clock::time_point now);
  void remember(std::string_view peer, std::uint16_t mid, ResponseCode code,
                Clock::time_point now) {
    remember(peer, mid, Answer{code, nullptr, 0, false}, now);
  }
  std::size_t size() const { return entries_.size(); }
  std::size_t body_bytes() const { return body_bytes_; }

 private:
  // (peer, message-id) in 32 bytes, compared and hashed as such: no string per entry, one hash
  // per operation. A peer longer than kPeerBytes (none in practice: IPv4 is 6 bytes, IPv6 18)
  // keeps its first bytes and a hash of the whole.
  struct Key {
    static constexpr std::size_t kPeerBytes = 28;
    std::array<char, kPeerBytes> peer{};
    std::uint16_t mid = 0;
    std::uint8_t length = 0;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept;
  };
  struct Entry {
    Answer answer;
    Clock::time_point expires;
  };
  using Entries = std::unordered_map<Key, Entry, KeyHash>;
  static Key key(std::string_view peer, std::uint16_t mid);
  void expire(Clock::time_point now);
  void erase(Entries::iterator it);
  void drop_body(Entries::iterator it);

  std::chrono::seconds lifetime_;
  std::size_t max_entries_;
  std::size_t max_body_bytes_;
  std::size_t body_bytes_ = 0;
  Entries entries_;
  std::deque<std::pair<Clock::time_point, Key>> order_;   // by expiry (= insertion)
  std::deque<std::pair<Clock::time_point, Key>> bodies_;  // entries with a body, same
};

}  // namespace holdfast::coap
