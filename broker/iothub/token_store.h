#pragma once
// TokenStore: the SAS tokens devices presented to the gateway (MQTT password, AMQP $cbs
// put-token), kept so that the bridge can use them upstream in token-passthrough mode, until
// they expire.
//
// Concurrency: every method may be called from any thread (the listeners' io thread puts, the
// bridge thread gets); a mutex guards the map. Never blocks on I/O.
//
// Limitations: in memory only; devices present a fresh token when they reconnect after a
// restart.

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace holdfast::iothub {

struct KeptToken {
  std::string token;          // "SharedAccessSignature sr=...&sig=...&se=..."
  std::int64_t expiry_s = 0;  // its `se`
  bool verified = false;      // the gateway checked the signature with the device's key
};

class TokenStore {
 public:
  // Keeps `token` for `device_id` unless a token that expires later is already kept.
  void put(const std::string& device_id, KeptToken token);
  // The kept token of `device_id` if it is still valid at `now_s`.
  std::optional<KeptToken> get(const std::string& device_id, std::int64_t now_s) const;
  // Forgets tokens expired at `now_s`; returns how many.
  std::size_t expire(std::int64_t now_s);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<std::string, KeptToken> tokens_;
};

}  // namespace holdfast::iothub
