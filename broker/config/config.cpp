#include "broker/config/config.h"

#include <ostream>

#include "broker/config/schema.h"

namespace holdfast::config {

Config default_config() {
  Config config;
  schema::for_each_section([&](const auto& section, auto member) {
    auto& target = config.*member;
    if constexpr (schema::IsVector<std::remove_cvref_t<decltype(target)>>::value) {
      for (const auto& values : section.default_elements) {
        target.push_back(schema::element_of(section, values));
      }
    } else {
      target = schema::element_of(section, {});
    }
  });
  return config;
}

std::string ConfigError::to_string() const {
  std::string out = file + ":";
  if (line > 0) {
    out += std::to_string(line) + ":";
    if (column > 0) out += std::to_string(column) + ":";
  }
  return out + " " + reason;
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const auto& e : errors) {
    if (!out.empty()) out += '\n';
    out += e.to_string();
  }
  return out;
}

int check_config_command(const std::string& path, std::ostream& out, std::ostream& err) {
  auto config = load_config_file(path);
  if (!config) {
    err << config.error().message() << '\n';
    return 1;
  }
  auto count = [](std::size_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
  };
  out << path << ": OK (" << count(config->listeners.size(), "listener", "listeners") << ", "
      << count(config->routes.size(), "route", "routes") << ", "
      << count(config->upstreams.size(), "upstream", "upstreams") << ", "
      << count(config->queue_policies.size(), "queue policy", "queue policies") << ")\n";
  return 0;
}

std::string_view sync_mode_name(SyncMode mode) {
  return schema::enum_name(schema::kSyncModes, mode);
}
std::string_view overflow_policy_name(core::OverflowPolicy policy) {
  return schema::enum_name(schema::kOverflowPolicies, policy);
}
std::string_view upstream_kind_name(UpstreamKind kind) {
  return schema::enum_name(schema::kUpstreamKinds, kind);
}
std::string_view upstream_auth_name(UpstreamAuth auth) {
  return schema::enum_name(schema::kUpstreamAuths, auth);
}
std::string_view refusal_policy_name(RefusalPolicy policy) {
  return schema::enum_name(schema::kRefusalPolicies, policy);
}
std::string_view log_level_name(LogLevel level) {
  return schema::enum_name(schema::kLogLevels, level);
}

}  // namespace holdfast::config
