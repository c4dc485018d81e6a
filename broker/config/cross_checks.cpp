// The checks that need the whole Config, and the bookkeeping of errors.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <climits>

#include "broker/config/diagnostics.h"

namespace holdfast::config::detail {
namespace {

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
// of neighbours ("hbu" -> "hub") each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

void check_upstream_names(const Config& config, const ConfigPlaces& places, Errors& errors) {
  std::map<std::string_view, std::size_t> first;
  for (std::size_t i = 0; i < config.upstreams.size(); ++i) {
    const Places& p = places.element("upstream", i);
    if (p.bad.contains("name")) continue;
    auto [it, inserted] = first.emplace(config.upstreams[i].name, i);
    if (!inserted) {
      errors.add(p.at("name"), "upstream.name: \"" + config.upstreams[i].name +
                                   "\" is already the name of the [[upstream]] " +
                                   line_text(places.element("upstream", it->second)));
    }
  }
}

void check_route_upstreams(const Config& config, const ConfigPlaces& places, Errors& errors) {
  std::vector<std::string_view> names;
  for (const auto& u : config.upstreams) {
    if (std::find(names.begin(), names.end(), u.name) == names.end()) names.push_back(u.name);
  }
  std::string declared;
  for (auto n : names) declared += (declared.empty() ? "\"" : ", \"") + std::string(n) + "\"";
  if (declared.empty()) declared = "none";

  // Default routes whose upstream the file's [[upstream]] tables replaced: one error per name.
  std::map<std::string, std::vector<std::string>> orphaned;
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    const RouteSetting& route = config.routes[i];
    const Places& p = places.element("route", i);
    if (route.upstream.empty() || p.bad.contains("upstream")) continue;
    if (std::find(names.begin(), names.end(), route.upstream) != names.end()) continue;
    if (!p.from_file) {
      orphaned[route.upstream].push_back("\"" + route.pattern + "\"");
      continue;
    }
    errors.add(p.at("upstream"), "route.upstream: no [[upstream]] is named \"" + route.upstream +
                                     "\" (declared: " + declared + ")" +
                                     did_you_mean(route.upstream, names));
  }
  const Places& first_upstream = places.element("upstream", 0);
  for (const auto& [upstream, patterns] : orphaned) {
    std::string list;
    for (const auto& pattern : patterns) list += (list.empty() ? "" : ", ") + pattern;
    errors.add(
        first_upstream.from_file ? first_upstream.header : Where{},
        "the default [[route]] tables (" + list + ") send to upstream \"" + upstream +
            "\", which the [[upstream]] tables of this file do not declare (declared: " + declared +
            "); add [[route]] tables, or an [[upstream]] named \"" + upstream + "\"");
  }
}

// A socket the config asks for, to find two that cannot both be bound.
struct Endpoint {
  std::string what;  // "the mqtt [[listener]] at line 7", "[admin]"
  std::string section;
  std::string bind;
  std::uint16_t port;
  bool udp;
  const Places* places;
};

struct Address {
  bool valid = false;
  bool v6 = false;
  std::array<unsigned char, 16> bytes{};
  bool any() const {
    return valid && std::all_of(bytes.begin(), bytes.end(), [](unsigned char b) { return !b; });
  }
};

Address parse_address(const std::string& text) {
  Address a;
  if (inet_pton(AF_INET, text.c_str(), a.bytes.data()) == 1) {
    a.valid = true;
  } else if (inet_pton(AF_INET6, text.c_str(), a.bytes.data()) == 1) {
    a.valid = a.v6 = true;
  }
  return a;
}

// Linux refuses the second bind when the addresses are equal, when one is the IPv6 wildcard
// (dual-stack by default), or when one is 0.0.0.0 and the other any IPv4 address.
bool collide(const Endpoint& a, const Endpoint& b) {
  if (a.udp != b.udp || a.port != b.port) return false;
  Address x = parse_address(a.bind);
  Address y = parse_address(b.bind);
  if (!x.valid || !y.valid) return false;  // reported already
  if (x.v6 == y.v6 && x.bytes == y.bytes) return true;
  if ((x.v6 && x.any()) || (y.v6 && y.any())) return true;
  return !x.v6 && !y.v6 && (x.any() || y.any());
}

void check_ports(const Config& config, const ConfigPlaces& places, Errors& errors) {
  std::vector<Endpoint> endpoints;
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& l = config.listeners[i];
    const Places& p = places.element("listener", i);
    if (p.bad.contains("port") || p.bad.contains("bind") || p.bad.contains("protocol")) continue;
    std::string what =
        "the " + std::string(core::protocol_name(l.protocol)) + " [[listener]] " + line_text(p);
    endpoints.push_back(
        {what, "listener", l.bind, l.port, l.protocol == core::Protocol::kCoap, &p});
  }
  const Places& admin = places.element("admin", 0);
  if (config.admin.port != 0 && !admin.bad.contains("port") && !admin.bad.contains("bind")) {
    endpoints.push_back({"[admin]", "admin", config.admin.bind, config.admin.port, false, &admin});
  }
  for (std::size_t j = 1; j < endpoints.size(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      if (!collide(endpoints[i], endpoints[j])) continue;
      // Report it where the user can act: the later endpoint, unless only the earlier one is
      // in the file.
      const Endpoint& here = endpoints[j].places->from_file || !endpoints[i].places->from_file
                                 ? endpoints[j]
                                 : endpoints[i];
      const Endpoint& other = &here == &endpoints[j] ? endpoints[i] : endpoints[j];
      errors.add(here.places->at("port"),
                 here.section + ".port: " + here.bind + ":" + std::to_string(here.port) +
                     (here.udp ? "/udp" : "/tcp") + " collides with " + other.what + " on " +
                     other.bind + ":" + std::to_string(other.port) +
                     "; give one of them another port or bind address");
      break;
    }
  }
}

}  // namespace

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = std::max<std::size_t>(1, word.size() / 3) + 1;
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best.empty() ? "" : "; did you mean \"" + std::string(best) + "\"?";
}

std::string line_text(const Places& p) {
  return p.from_file ? "at line " + std::to_string(p.header.line) : "(a default)";
}

std::vector<ConfigError> Errors::take() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    auto key = [](const ConfigError& e) {
      return std::pair(e.line == 0 ? INT_MAX : e.line, e.column);
    };
    return key(a) < key(b);
  });
  return std::move(errors_);
}

void check_across_sections(const Config& config, const ConfigPlaces& places, Errors& errors) {
  check_upstream_names(config, places, errors);
  check_route_upstreams(config, places, errors);
  check_ports(config, places, errors);
}

}  // namespace holdfast::config::detail
