#include "protocols/coap/psk_keys.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace holdfast::coap {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

bool valid_identity(std::string_view id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (c <= ' ' || c > '~' || c == '/' || c == '+' || c == '#') return false;
  }
  return true;
}

core::Result<PskKeys> PskKeys::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return core::error(err == ENOENT ? core::Code::kNotFound : core::Code::kIoError,
                       "cannot read the PSK file '" + path + "': " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

core::Result<PskKeys> PskKeys::parse(std::string_view text, std::string_view source) {
  PskKeys out;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    auto fail = [&](const std::string& reason) {
      return core::error(core::Code::kInvalidArgument,
                         std::string(source) + ":" + std::to_string(line_no) + ": " + reason);
    };
    auto skip_space = [](std::string_view s) {
      while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
        s.remove_prefix(1);
      }
      return s;
    };
    line = skip_space(line);
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) {
      line.remove_suffix(1);
    }
    if (line.empty() || line.front() == '#') continue;
    auto space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return fail("expected \"identity key-hex\"");
    std::string_view identity = line.substr(0, space);
    std::string_view hex = skip_space(line.substr(space));
    if (!valid_identity(identity)) {
      return fail("identity \"" + std::string(identity) +
                  "\" is not a device id (1-128 printable characters, no '/', '+', '#')");
    }
    if (hex.empty() || hex.size() % 2 != 0 || hex.size() > 128) {
      return fail("the key must be 2 to 128 hex digits (an even number)");
    }
    std::string key;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
      int hi = hex_value(hex[i]), lo = hex_value(hex[i + 1]);
      if (hi < 0 || lo < 0) return fail("the key is not hexadecimal");
      key.push_back(static_cast<char>(hi * 16 + lo));
    }
    if (!out.keys_.emplace(std::string(identity), std::move(key)).second) {
      return fail("identity \"" + std::string(identity) + "\" is listed twice");
    }
  }
  return out;
}

const std::string* PskKeys::key(std::string_view identity) const {
  auto it = keys_.find(identity);
  return it == keys_.end() ? nullptr : &it->second;
}

}  // namespace holdfast::coap
