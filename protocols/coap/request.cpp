#include "protocols/coap/request.h"

#include <array>
#include <charconv>

namespace holdfast::coap {
namespace {

struct Format {
  std::uint16_t number;
  std::string_view type;
};
// RFC 7252 12.3 and the IANA registry's most common entries.
constexpr std::array kFormats{
    Format{0, "text/plain;charset=utf-8"}, Format{40, "application/link-format"},
    Format{41, "application/xml"},         Format{42, "application/octet-stream"},
    Format{47, "application/exi"},         Format{50, "application/json"},
    Format{60, "application/cbor"},        Format{110, "application/senml+json"},
    Format{112, "application/senml+cbor"},
};

core::Result<std::string> join(const std::vector<std::string>& segments, bool wildcards) {
  if (segments.empty()) return core::error(core::Code::kInvalidArgument, "no Uri-Path");
  std::string out;
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const std::string& s = segments[i];
    if (s.empty()) return core::error(core::Code::kInvalidArgument, "empty Uri-Path segment");
    bool wildcard = s == "+" || (s == "#" && i + 1 == segments.size());
    if (!(wildcards && wildcard) && s.find_first_of(std::string_view("/+#\0", 4)) != s.npos) {
      return core::error(core::Code::kInvalidArgument,
                         "Uri-Path segment \"" + s + "\" holds '/', '+', '#' or NUL");
    }
    if (i) out.push_back('/');
    out += s;
  }
  return out;
}

}  // namespace

core::Result<std::string> address_from_path(const std::vector<std::string>& segments) {
  return join(segments, false);
}

core::Result<std::string> filter_from_path(const std::vector<std::string>& segments) {
  return join(segments, true);
}

std::string content_type_for(std::uint16_t format) {
  for (const auto& f : kFormats) {
    if (f.number == format) return std::string(f.type);
  }
  return std::to_string(format);
}

std::optional<std::uint16_t> format_for(std::string_view content_type) {
  if (content_type.empty()) return std::nullopt;
  for (const auto& f : kFormats) {
    if (f.type == content_type) return f.number;
  }
  if (content_type == "text/plain") return 0;
  std::uint16_t n = 0;
  auto [end, ec] =
      std::from_chars(content_type.data(), content_type.data() + content_type.size(), n);
  if (ec == std::errc() && end == content_type.data() + content_type.size()) return n;
  return std::nullopt;
}

core::Result<GetQuery> parse_get_query(const std::vector<std::string>& queries) {
  GetQuery q;
  for (const auto& item : queries) {
    std::string_view s = item;
    auto eq = s.find('=');
    std::string_view name = s.substr(0, eq);
    std::string_view value = eq == s.npos ? std::string_view() : s.substr(eq + 1);
    if (name == "peek" && eq == s.npos) {
      q.peek = true;
    } else if (name == "mode" && (value == "peek" || value == "take")) {
      q.peek = value == "peek";
    } else if (name == "wait") {
      std::uint32_t ms = 0;
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
      if (value.empty() || ec != std::errc() || end != value.data() + value.size()) {
        return core::error(core::Code::kInvalidArgument,
                           "wait=" + std::string(value) + " is not a number of milliseconds");
      }
      q.wait = std::chrono::milliseconds(ms);
    } else {
      return core::error(
          core::Code::kInvalidArgument,
          "unknown query parameter \"" + std::string(s) + "\" (peek, mode=peek|take, wait=MS)");
    }
  }
  return q;
}

}  // namespace holdfast::coap
