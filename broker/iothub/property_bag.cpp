#include "broker/iothub/property_bag.h"

#include <utility>

#include "broker/core/address.h"
#include "broker/iothub/iso8601.h"

namespace holdfast::iothub {
namespace {

using core::Code;

void append_pair(std::string& bag, std::string_view name, std::string_view value) {
  if (!bag.empty()) bag.push_back('&');
  bag.append(core::url_encode(name));
  bag.push_back('=');
  bag.append(core::url_encode(value));
}

// Sets the field a mapped system key names; false when `name` is not one (or is a $.ctime that
// does not parse, which then stays visible as a user property).
bool apply_system_key(std::string_view name, std::string& value, core::Properties& out) {
  if (name == "$.mid") {
    out.message_id = std::move(value);
  } else if (name == "$.cid") {
    out.correlation_id = std::move(value);
  } else if (name == "$.ct") {
    out.content_type = std::move(value);
  } else if (name == "$.ce") {
    out.content_encoding = std::move(value);
  } else if (auto ms = name == "$.ctime" ? parse_iso8601_utc_ms(value) : std::nullopt) {
    out.creation_time_ms = *ms;
  } else {
    return false;
  }
  return true;
}

}  // namespace

core::Status apply_property_bag(std::string_view bag, core::Properties& out) {
  if (!bag.empty() && bag.back() == '/') bag.remove_suffix(1);
  // Work on a copy so that a bad bag changes nothing.
  core::Properties result = out;
  std::size_t start = 0;
  std::size_t index = 0;
  while (start < bag.size()) {
    std::size_t amp = bag.find('&', start);
    if (amp == std::string_view::npos) amp = bag.size();
    std::string_view field = bag.substr(start, amp - start);
    start = amp + 1;
    if (field.empty()) continue;
    ++index;
    std::size_t eq = field.find('=');
    auto name = core::url_decode(field.substr(0, eq));
    if (!name) {
      return {Code::kInvalidArgument,
              "property bag: bad %-escape in the name of property #" + std::to_string(index)};
    }
    if (name->empty()) {
      return {Code::kInvalidArgument,
              "property bag: property #" + std::to_string(index) + " has an empty name"};
    }
    std::string value;
    if (eq != std::string_view::npos) {
      auto decoded = core::url_decode(field.substr(eq + 1));
      if (!decoded) {
        return {Code::kInvalidArgument,
                "property bag: bad %-escape in the value of property #" + std::to_string(index)};
      }
      value = std::move(*decoded);
    }

    if (!apply_system_key(*name, value, result)) {
      result.user.emplace_back(std::move(*name), std::move(value));
    }
  }
  out = std::move(result);
  return {};
}

std::string encode_property_bag(const core::Properties& properties) {
  std::string bag;
  if (!properties.message_id.empty()) append_pair(bag, "$.mid", properties.message_id);
  if (!properties.correlation_id.empty()) append_pair(bag, "$.cid", properties.correlation_id);
  if (!properties.content_type.empty()) append_pair(bag, "$.ct", properties.content_type);
  if (!properties.content_encoding.empty()) {
    append_pair(bag, "$.ce", properties.content_encoding);
  }
  if (properties.creation_time_ms) {
    append_pair(bag, "$.ctime", format_iso8601_utc_ms(*properties.creation_time_ms));
  }
  for (const auto& [name, value] : properties.user) append_pair(bag, name, value);
  return bag;
}

}  // namespace holdfast::iothub
