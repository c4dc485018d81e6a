#include "broker/router/routes.h"

#include <algorithm>
#include <optional>

#include "broker/core/address.h"

namespace holdfast::broker {
namespace {

// Calls `on_placeholder(name)` for each "{name}" and `on_text(text)` for the text between.
// Returns false on an unbalanced brace.
template <typename Text, typename Placeholder>
bool scan_template(std::string_view tmpl, Text on_text, Placeholder on_placeholder) {
  std::size_t i = 0;
  while (i < tmpl.size()) {
    std::size_t open = tmpl.find_first_of("{}", i);
    if (open == std::string_view::npos) {
      on_text(tmpl.substr(i));
      return true;
    }
    if (tmpl[open] == '}') return false;
    std::size_t close = tmpl.find_first_of("{}", open + 1);
    if (close == std::string_view::npos || tmpl[close] == '{') return false;
    on_text(tmpl.substr(i, open - i));
    if (!on_placeholder(tmpl.substr(open + 1, close - open - 1))) return false;
    i = close + 1;
  }
  return true;
}

std::size_t wildcard_count(std::string_view pattern) {
  auto levels = core::split_address(pattern);
  return static_cast<std::size_t>(std::count(levels.begin(), levels.end(), "+"));
}

// Whether `name` matches the template parts from `part` on (literal text, or std::nullopt for a
// placeholder: one or more characters other than '/'). Backtracks; templates are short.
bool matches_parts(const std::vector<std::optional<std::string_view>>& parts, std::size_t part,
                   std::string_view name) {
  if (part == parts.size()) return name.empty();
  if (parts[part]) {
    return name.starts_with(*parts[part]) &&
           matches_parts(parts, part + 1, name.substr(parts[part]->size()));
  }
  std::size_t limit = std::min(name.find('/'), name.size());
  for (std::size_t n = 1; n <= limit; ++n) {
    if (matches_parts(parts, part + 1, name.substr(n))) return true;
  }
  return false;
}

}  // namespace

core::Result<RouteTable> RouteTable::build(std::vector<Route> routes) {
  for (const Route& r : routes) {
    std::string where = "route '" + r.pattern + "' -> '" + r.queue_template + "': ";
    if (!core::is_valid_topic_filter(r.pattern)) {
      return core::error(core::Code::kInvalidArgument,
                         where + "pattern is not a valid MQTT topic filter");
    }
    if (r.queue_template.empty()) {
      return core::error(core::Code::kInvalidArgument, where + "queue is empty");
    }
    std::size_t wildcards = wildcard_count(r.pattern);
    std::string problem;
    bool balanced = scan_template(
        r.queue_template, [](std::string_view) {},
        [&](std::string_view name) {
          if (name == "device") return true;
          if (name.size() == 1 && name[0] >= '1' && name[0] <= '9') {
            if (static_cast<std::size_t>(name[0] - '0') <= wildcards) return true;
            problem = "{" + std::string(name) + "} but the pattern has only " +
                      std::to_string(wildcards) + " '+' wildcard(s)";
            return false;
          }
          problem = "unknown placeholder {" + std::string(name) + "} (use {1}..{9} or {device})";
          return false;
        });
    if (!balanced) {
      return core::error(core::Code::kInvalidArgument,
                         where + (problem.empty() ? "unbalanced braces in queue" : problem));
    }
  }
  RouteTable table;
  table.routes_ = std::move(routes);
  return table;
}

std::vector<std::string> RouteTable::resolve(const std::string& address,
                                             const core::Origin& origin) const {
  std::vector<std::string> queues;
  std::vector<std::string_view> levels;
  for (const Route& r : routes_) {
    if (!core::topic_matches(r.pattern, address)) continue;
    if (levels.empty()) levels = core::split_address(address);
    std::vector<std::string_view> captured;
    auto pattern_levels = core::split_address(r.pattern);
    for (std::size_t i = 0; i < pattern_levels.size() && i < levels.size(); ++i) {
      if (pattern_levels[i] == "+") captured.push_back(levels[i]);
    }
    std::string queue;
    bool complete = scan_template(
        r.queue_template, [&](std::string_view text) { queue += text; },
        [&](std::string_view name) {
          if (name == "device") {
            auto device = core::parse_device_address(address);
            std::string id = device ? device->device_id : origin.device_id;
            if (id.empty()) return false;
            queue += id;
            return true;
          }
          std::size_t n = static_cast<std::size_t>(name[0] - '1');
          if (n >= captured.size() || captured[n].empty()) return false;
          queue += captured[n];
          return true;
        });
    if (complete && std::find(queues.begin(), queues.end(), queue) == queues.end()) {
      queues.push_back(std::move(queue));
    }
  }
  return queues;
}

bool RouteTable::names_queue(std::string_view name) const {
  std::vector<std::optional<std::string_view>> parts;
  for (const Route& r : routes_) {
    parts.clear();
    bool ok = scan_template(
        r.queue_template,
        [&](std::string_view text) {
          if (!text.empty()) parts.emplace_back(text);
        },
        [&](std::string_view) {
          parts.emplace_back(std::nullopt);
          return true;
        });
    if (ok && matches_parts(parts, 0, name)) return true;
  }
  return false;
}

}  // namespace holdfast::broker
