#include "tools/ctl/render.h"

#include <algorithm>
#include <cstdio>

#include "broker/iothub/base64.h"
#include "broker/iothub/iso8601.h"

namespace holdfast::ctl {

std::string human_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string human_duration_ms(std::int64_t ms) {
  if (ms < 0) return "-";
  std::int64_t s = ms / 1000;
  char text[32];
  if (s < 60) {
    std::snprintf(text, sizeof text, "%llds", static_cast<long long>(s));
  } else if (s < 3600) {
    std::snprintf(text, sizeof text, "%lldm %02llds", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  } else if (s < 86400) {
    std::snprintf(text, sizeof text, "%lldh %02lldm", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  } else {
    std::snprintf(text, sizeof text, "%lldd %02lldh", static_cast<long long>(s / 86400),
                  static_cast<long long>(s / 3600 % 24));
  }
  return text;
}

std::string count(std::uint64_t n, std::string_view noun) {
  return std::to_string(n) + " " + std::string(noun) + (n == 1 ? "" : "s");
}

std::string iso_time_ms(std::int64_t epoch_ms) {
  return iothub::format_iso8601_utc_ms(epoch_ms);
}

void Table::print(std::ostream& out) const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].title.size();
  for (const auto& row : rows_) {
    for (std::size_t c = 0; c < columns_.size() && c < row.size(); ++c) {
      width[c] = std::max(width[c], row[c].size());
    }
  }
  auto line = [&](auto cell_of) {
    std::string text;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      std::string cell = cell_of(c);
      std::string pad(width[c] - std::min(width[c], cell.size()), ' ');
      if (c > 0) text += "  ";
      text += columns_[c].numeric ? pad + cell : cell + pad;
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out << text << '\n';
  };
  line([&](std::size_t c) { return columns_[c].title; });
  for (const auto& row : rows_) {
    line([&](std::size_t c) { return c < row.size() ? row[c] : std::string(); });
  }
}

namespace {

// Length of the valid UTF-8 sequence starting at bytes[i] (a lead byte >= 0x80), or 0.
std::size_t utf8_length(std::string_view bytes, std::size_t i) {
  auto c = static_cast<unsigned char>(bytes[i]);
  std::size_t extra = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 0;
  if (extra == 0 || c == 0xC0 || c == 0xC1 || c > 0xF4) return 0;
  if (i + extra >= bytes.size()) return 0;  // cut short
  for (std::size_t k = 1; k <= extra; ++k) {
    if ((static_cast<unsigned char>(bytes[i + k]) & 0xC0) != 0x80) return 0;
  }
  return extra + 1;
}

}  // namespace

bool is_printable_text(std::string_view bytes) {
  for (std::size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    if (c >= 0x80) {
      std::size_t n = utf8_length(bytes, i);
      if (n == 0) return false;
      i += n;
    } else if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F) {
      return false;
    } else {
      ++i;
    }
  }
  return true;
}

namespace {

void print_hex(std::ostream& out, std::string_view bytes, std::string_view indent) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t offset = 0; offset < bytes.size(); offset += 16) {
    std::string hex, ascii;
    for (std::size_t k = 0; k < 16; ++k) {
      if (k == 8) hex += ' ';
      if (offset + k < bytes.size()) {
        auto c = static_cast<unsigned char>(bytes[offset + k]);
        hex += kHex[c >> 4];
        hex += kHex[c & 15];
        hex += ' ';
        ascii += c >= 0x20 && c < 0x7F ? static_cast<char>(c) : '.';
      } else {
        hex += "   ";
      }
    }
    char where[24];
    std::snprintf(where, sizeof where, "%08zx", offset);
    out << indent << where << "  " << hex << " |" << ascii << "|\n";
  }
}

// Appends `bytes` (without newlines) to `line`, escaping as safe() says.
void append_escaped(std::string& line, std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (std::size_t i = 0; i < bytes.size();) {
    auto c = static_cast<unsigned char>(bytes[i]);
    std::size_t n = c >= 0x80 ? utf8_length(bytes, i) : 1;
    if (n == 0 || (c < 0x20 && c != '\t') || c == 0x7F) {
      line += "\\x";
      line += kHex[c >> 4];
      line += kHex[c & 15];
      ++i;
    } else {
      line.append(bytes.substr(i, n));
      i += n;
    }
  }
}

// Text line by line, escaped as safe() says.
void print_text(std::ostream& out, std::string_view bytes, std::string_view indent) {
  while (!bytes.empty()) {
    std::size_t end = bytes.find('\n');
    std::string line;
    append_escaped(line, bytes.substr(0, end));
    out << indent << line << '\n';
    if (end == std::string_view::npos) return;
    bytes.remove_prefix(end + 1);
  }
}

}  // namespace

std::string safe(std::string_view text) {
  std::string out;
  append_escaped(out, text);  // newlines included
  return out;
}

void print_payload(std::ostream& out, std::string_view bytes, PayloadFormat format,
                   std::size_t limit, std::string_view indent) {
  std::string_view shown = limit == 0 ? bytes : bytes.substr(0, limit);
  if (format == PayloadFormat::kAuto) {
    format = is_printable_text(bytes) ? PayloadFormat::kText : PayloadFormat::kHex;
  }
  switch (format) {
    case PayloadFormat::kHex:
      print_hex(out, shown, indent);
      break;
    case PayloadFormat::kText:
      print_text(out, shown, indent);
      break;
    case PayloadFormat::kBase64:
      shown = bytes;  // a cut base64 string is of no use: always whole
      out << indent << iothub::base64_encode(bytes) << '\n';
      break;
    case PayloadFormat::kAuto:
      break;
  }
  if (shown.size() < bytes.size()) {
    out << indent << "... " << bytes.size() - shown.size()
        << " more bytes (--payload-bytes 0 shows all; export writes every byte)\n";
  }
}

}  // namespace holdfast::ctl
