#include "broker/iothub/mqtt_identity.h"

#include <map>
#include <vector>

#include "broker/core/address.h"

namespace holdfast::iothub {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Like .NET's Uri.UnescapeDataString, which edgeHub uses here: valid %XX escapes are decoded, a
// '%' that does not start one is kept. core::url_decode would refuse the whole value instead.
std::string lenient_url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex_digit(text[i + 1]) >= 0 &&
        hex_digit(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex_digit(text[i + 1]) * 16 + hex_digit(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

std::map<std::string, std::string, std::less<>> parse_query(std::string_view query) {
  std::map<std::string, std::string, std::less<>> params;
  std::size_t start = 0;
  while (start < query.size()) {
    std::size_t amp = query.find('&', start);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view field = query.substr(start, amp - start);
    start = amp + 1;
    if (field.empty()) continue;
    std::size_t eq = field.find('=');
    std::string_view name = field.substr(0, eq);
    std::string_view raw = eq == std::string_view::npos ? std::string_view() : field.substr(eq + 1);
    params.try_emplace(std::string(name), lenient_url_decode(raw));
  }
  return params;
}

std::string take(std::map<std::string, std::string, std::less<>>& params, std::string_view name) {
  auto it = params.find(name);
  return it == params.end() ? std::string() : std::move(it->second);
}

}  // namespace

std::optional<MqttDeviceLogin> parse_mqtt_username(std::string_view username) {
  auto segments = core::split_address(username);
  if (segments.size() != 3 && segments.size() != 4) return std::nullopt;
  std::string_view query = segments.back();
  if (query.starts_with('?')) {
    query.remove_prefix(1);
  } else if (query.find("api-version=") == std::string_view::npos) {
    return std::nullopt;
  }

  MqttDeviceLogin login;
  login.host = std::string(segments[0]);
  login.device_id = std::string(segments[1]);
  if (segments.size() == 4) {
    login.module_id = std::string(segments[2]);
    if (login.module_id.empty()) return std::nullopt;
  }
  if (login.host.empty() || login.device_id.empty()) return std::nullopt;

  auto params = parse_query(query);
  login.api_version = take(params, "api-version");
  if (login.api_version.empty()) return std::nullopt;
  login.device_client_type = take(params, "DeviceClientType");
  login.model_id = take(params, "model-id");
  login.auth_chain = take(params, "auth-chain");
  return login;
}

std::string mqtt_client_id_for(const MqttDeviceLogin& login) {
  if (login.module_id.empty()) return login.device_id;
  return login.device_id + "/" + login.module_id;
}

}  // namespace holdfast::iothub
