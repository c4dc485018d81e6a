#include "broker/iothub/token_store.h"

namespace holdfast::iothub {

void TokenStore::put(const std::string& device_id, KeptToken token) {
  std::lock_guard lock(mu_);
  auto [it, inserted] = tokens_.try_emplace(device_id, token);
  if (!inserted && token.expiry_s >= it->second.expiry_s) it->second = std::move(token);
}

std::optional<KeptToken> TokenStore::get(const std::string& device_id, std::int64_t now_s) const {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(device_id);
  if (it == tokens_.end() || it->second.expiry_s <= now_s) return std::nullopt;
  return it->second;
}

std::size_t TokenStore::expire(std::int64_t now_s) {
  std::lock_guard lock(mu_);
  return std::erase_if(tokens_, [now_s](const auto& kv) { return kv.second.expiry_s <= now_s; });
}

std::size_t TokenStore::size() const {
  std::lock_guard lock(mu_);
  return tokens_.size();
}

}  // namespace holdfast::iothub
