// Values of the settings table: decoding the text a user writes, bounds, and TOML literals.

#include <charconv>
#include <limits>

#include "broker/config/schema.h"
#include "broker/config/units.h"

namespace holdfast::config::schema {

std::string_view kind_name(Kind kind) {
  switch (kind) {
    case Kind::kBool:
      return "bool";
    case Kind::kInteger:
      return "integer";
    case Kind::kString:
      return "string";
    case Kind::kPath:
      return "path";
    case Kind::kSize:
      return "size";
    case Kind::kDuration:
      return "duration";
    case Kind::kEnum:
      return "enum";
  }
  return "?";
}

std::expected<Value, std::string> decode_text(const SettingInfo& info, std::string_view text) {
  Value value;
  switch (info.kind) {
    case Kind::kBool:
      if (text != "true" && text != "false") return std::unexpected("expected true or false");
      value = text == "true";
      break;
    case Kind::kInteger: {
      std::int64_t n = 0;
      auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec != std::errc() || end != text.data() + text.size()) {
        return std::unexpected("expected an integer");
      }
      value = n;
      break;
    }
    case Kind::kSize: {
      auto bytes = parse_size(text);
      if (!bytes) return std::unexpected(bytes.error().message());
      value = static_cast<std::int64_t>(*bytes);
      break;
    }
    case Kind::kDuration: {
      auto ms = parse_duration(text);
      if (!ms) return std::unexpected(ms.error().message());
      value = static_cast<std::int64_t>(ms->count());
      break;
    }
    case Kind::kString:
    case Kind::kPath:
    case Kind::kEnum:
      value = std::string(text);
      break;
  }
  if (auto reason = validate(info, value); !reason.empty()) return std::unexpected(reason);
  return value;
}

std::string validate(const SettingInfo& info, const Value& value) {
  switch (info.kind) {
    case Kind::kInteger:
    case Kind::kSize:
    case Kind::kDuration: {
      std::int64_t n = std::get<std::int64_t>(value);
      if (n < info.min || n > info.max) {
        return "must be " + bounds_text(info) + ", got " + plain_text(info, value);
      }
      break;
    }
    case Kind::kEnum: {
      const std::string& s = std::get<std::string>(value);
      bool found = false;
      for (auto c : info.choices) found = found || c == s;
      if (!found) return "expected one of " + choices_text(info) + ", got " + quote(s);
      break;
    }
    default:
      break;
  }
  if (info.check) return info.check(value);
  return "";
}

std::string plain_text(const SettingInfo& info, const Value& value) {
  switch (info.kind) {
    case Kind::kBool:
      return std::get<bool>(value) ? "true" : "false";
    case Kind::kInteger:
      return std::to_string(std::get<std::int64_t>(value));
    case Kind::kSize:
      return format_size(static_cast<std::uint64_t>(std::get<std::int64_t>(value)));
    case Kind::kDuration:
      return format_duration(std::chrono::milliseconds(std::get<std::int64_t>(value)));
    case Kind::kString:
    case Kind::kPath:
    case Kind::kEnum:
      return std::get<std::string>(value);
  }
  return "";
}

std::string toml_literal(const SettingInfo& info, const Value& value) {
  switch (info.kind) {
    case Kind::kBool:
    case Kind::kInteger:
      return plain_text(info, value);
    case Kind::kSize: {
      // Plain byte counts stay integers; anything with a unit is a string.
      std::string text = plain_text(info, value);
      bool digits = text.find_first_not_of("0123456789") == std::string::npos;
      return digits ? text : quote(text);
    }
    default:
      return quote(plain_text(info, value));
  }
}

std::string bounds_text(const SettingInfo& info) {
  auto show = [&](std::int64_t n) { return plain_text(info, Value(n)); };
  constexpr std::int64_t kTop = std::numeric_limits<std::int64_t>::max();
  if (info.max < kTop) return "between " + show(info.min) + " and " + show(info.max);
  if (info.min > 0) return "at least " + show(info.min);
  return "";
}

std::string choices_text(const SettingInfo& info) {
  std::string out;
  for (auto c : info.choices) {
    if (!out.empty()) out += ", ";
    out += quote(c);
  }
  return out;
}

std::string quote(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += kHex[(c >> 4) & 0xf];
          out += kHex[c & 0xf];
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace holdfast::config::schema
