#include "broker/config/queue_template.h"

#include <string>

#include "broker/core/address.h"

namespace holdfast::config {

core::Status check_queue_template(std::string_view pattern, std::string_view queue_template) {
  auto bad = [](std::string reason) {
    return core::Status(core::Code::kInvalidArgument, std::move(reason));
  };
  if (queue_template.empty()) return bad("is empty");

  int wildcards = 0;
  for (std::string_view level : core::split_address(pattern)) {
    if (level == "+") ++wildcards;
  }

  std::size_t i = 0;
  while (i < queue_template.size()) {
    char c = queue_template[i];
    if (c == '}') return bad("has a '}' without a matching '{'");
    if (c == '+' || c == '#' || c == '\0') {
      return bad(std::string("contains '") + (c == '\0' ? std::string("\\0") : std::string(1, c)) +
                 "', which a queue name cannot hold; use {1}, {2}, ... for the levels the "
                 "pattern's '+' wildcards match");
    }
    if (c != '{') {
      ++i;
      continue;
    }
    std::size_t close = queue_template.find('}', i);
    if (close == std::string_view::npos) return bad("has a '{' without a matching '}'");
    std::string_view name = queue_template.substr(i + 1, close - i - 1);
    i = close + 1;
    if (name == "device") continue;
    // One digit, as the router reads them: a pattern has at most nine usable '+' levels.
    int index = name.size() == 1 && name[0] >= '1' && name[0] <= '9' ? name[0] - '0' : 0;
    if (index == 0) {
      return bad("has an unknown placeholder {" + std::string(name) +
                 "}; expected {1} to {9} (levels matched by the pattern's '+' wildcards) or "
                 "{device}");
    }
    if (index > wildcards) {
      return bad("references {" + std::string(name) + "}, but the pattern \"" +
                 std::string(pattern) + "\" has " +
                 (wildcards == 0 ? std::string("no") : std::to_string(wildcards)) + " '+' " +
                 (wildcards == 1 ? "wildcard" : "wildcards"));
    }
  }
  return {};
}

}  // namespace holdfast::config
