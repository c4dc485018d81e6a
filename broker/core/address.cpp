#include "broker/core/address.h"

#include <algorithm>
#include <cctype>

namespace holdfast::core {
namespace {

constexpr std::size_t kMaxTopicBytes = 65535;

bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string_view> split_address(std::string_view address) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    std::size_t slash = address.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(address.substr(start));
      return levels;
    }
    levels.push_back(address.substr(start, slash - start));
    start = slash + 1;
  }
}

bool is_valid_topic_name(std::string_view topic) {
  if (topic.empty() || topic.size() > kMaxTopicBytes) return false;
  return topic.find_first_of(std::string_view("+#\0", 3)) == std::string_view::npos;
}

bool is_valid_topic_filter(std::string_view filter) {
  if (filter.empty() || filter.size() > kMaxTopicBytes) return false;
  if (filter.find('\0') != std::string_view::npos) return false;
  auto levels = split_address(filter);
  for (std::size_t i = 0; i < levels.size(); ++i) {
    std::string_view level = levels[i];
    bool has_plus = level.find('+') != std::string_view::npos;
    bool has_hash = level.find('#') != std::string_view::npos;
    if (has_plus && level != "+") return false;
    if (has_hash && (level != "#" || i + 1 != levels.size())) return false;
  }
  return true;
}

bool topic_matches(std::string_view filter, std::string_view topic) {
  // A wildcard in the first level never matches a '$' topic (MQTT-4.7.2-1).
  if (!topic.empty() && topic.front() == '$' && !filter.empty() &&
      (filter.front() == '+' || filter.front() == '#')) {
    return false;
  }
  std::size_t f = 0;
  std::size_t t = 0;
  while (true) {
    std::size_t f_end = filter.find('/', f);
    if (f_end == std::string_view::npos) f_end = filter.size();
    std::string_view f_level = filter.substr(f, f_end - f);
    if (f_level == "#") return true;  // matches the parent level and everything below

    std::size_t t_end = topic.find('/', t);
    if (t_end == std::string_view::npos) t_end = topic.size();
    std::string_view t_level = topic.substr(t, t_end - t);
    if (f_level != "+" && f_level != t_level) return false;

    bool filter_last = f_end == filter.size();
    bool topic_last = t_end == topic.size();
    if (filter_last || topic_last) {
      if (filter_last && topic_last) return true;
      // "a/#" matches "a": the filter's next (last) level is '#'.
      return topic_last && filter.substr(f_end + 1) == "#";
    }
    f = f_end + 1;
    t = t_end + 1;
  }
}

std::optional<DeviceAddress> parse_device_address(std::string_view address) {
  if (istarts_with(address, "amqps://") || istarts_with(address, "amqp://")) {
    std::size_t scheme_end = address.find("//") + 2;
    std::size_t path = address.find('/', scheme_end);
    if (path == std::string_view::npos) return std::nullopt;
    address.remove_prefix(path);
  }
  if (!address.empty() && address.front() == '/') address.remove_prefix(1);
  if (!istarts_with(address, "devices/")) return std::nullopt;
  address.remove_prefix(8);
  std::size_t id_end = address.find('/');
  if (id_end == 0 || id_end == std::string_view::npos) return std::nullopt;
  auto id = url_decode(address.substr(0, id_end));
  if (!id || id->empty()) return std::nullopt;
  address.remove_prefix(id_end + 1);

  DeviceAddress result;
  result.device_id = std::move(*id);
  std::string_view rest;
  if (istarts_with(address, "messages/events")) {
    result.endpoint = DeviceEndpoint::kEvents;
    rest = address.substr(15);
  } else if (istarts_with(address, "messages/devicebound")) {
    result.endpoint = DeviceEndpoint::kDeviceBound;
    rest = address.substr(20);
  } else {
    return std::nullopt;
  }
  if (rest.empty()) return result;
  if (rest.front() != '/') return std::nullopt;  // e.g. "messages/eventsX"
  result.tail = std::string(rest.substr(1));
  return result;
}

Result<std::string> url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) {
      return error(Code::kInvalidArgument, "truncated %-escape at offset " + std::to_string(i));
    }
    int hi = hex_value(text[i + 1]);
    int lo = hex_value(text[i + 2]);
    if (hi < 0 || lo < 0) {
      return error(Code::kInvalidArgument, "bad %-escape at offset " + std::to_string(i));
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

}  // namespace holdfast::core
