#include "protocols/amqp/transfer_format.h"

#include <algorithm>
#include <cstring>

namespace holdfast::amqp {
namespace {

constexpr std::uint8_t kTransfer = 0x14;
constexpr std::size_t kFrameHeader = 8;

std::uint32_t be32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

void put_be32(std::string& out, std::uint32_t v) {
  out.push_back(static_cast<char>(v >> 24));
  out.push_back(static_cast<char>(v >> 16));
  out.push_back(static_cast<char>(v >> 8));
  out.push_back(static_cast<char>(v));
}

// Length of the encoded value at `p` (constructor included), for the types a transfer's first
// fields use; nullopt for anything else or when it runs past `end`.
std::optional<std::size_t> value_length(const char* p, const char* end) {
  if (p >= end) return std::nullopt;
  auto code = static_cast<unsigned char>(*p);
  std::size_t n = 0;
  switch (code) {
    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44:  // null, true, false, uint0, ulong0
      n = 1;
      break;
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56:
      n = 2;
      break;
    case 0x60: case 0x61:
      n = 3;
      break;
    case 0x70: case 0x71: case 0x72:
      n = 5;
      break;
    case 0x80: case 0x81: case 0x82: case 0x83:
      n = 9;
      break;
    case 0xa0: case 0xa1: case 0xa3:
      if (end - p < 2) return std::nullopt;
      n = 2 + static_cast<unsigned char>(p[1]);
      break;
    case 0xb0: case 0xb1: case 0xb3:
      if (end - p < 5) return std::nullopt;
      n = 5 + std::size_t{be32(p + 1)};
      break;
    default:
      return std::nullopt;
  }
  if (static_cast<std::size_t>(end - p) < n) return std::nullopt;
  return n;
}

std::optional<std::uint32_t> uint_value(std::string_view v) {
  auto code = static_cast<unsigned char>(v[0]);
  if (code == 0x43) return 0;
  if (code == 0x52 && v.size() == 2) return static_cast<unsigned char>(v[1]);
  if (code == 0x70 && v.size() == 5) return be32(v.data() + 1);
  return std::nullopt;
}

// A transfer frame taken apart: where its list and its first four fields are.
struct Parsed {
  std::size_t descriptor_end = 0;  // offset of the list constructor
  std::size_t list_end = 0;        // offset after the list (the payload starts there)
  std::uint32_t count = 0;
  // handle, delivery-id, delivery-tag, message-format, settled, more
  std::string_view fields[6];
  std::size_t rest = 0;  // offset of the field after message-format (or list_end)
};

std::optional<Parsed> parse_transfer(std::string_view f) {
  if (f.size() < kFrameHeader || f[5] != 0) return std::nullopt;  // type 0: AMQP
  std::size_t pos = static_cast<std::size_t>(static_cast<unsigned char>(f[4])) * 4;
  if (pos < kFrameHeader || pos + 3 > f.size() || f[pos] != 0) return std::nullopt;
  const char* base = f.data();
  ++pos;
  auto d = static_cast<unsigned char>(f[pos]);
  if (d == 0x53) {
    if (static_cast<unsigned char>(f[pos + 1]) != kTransfer) return std::nullopt;
    pos += 2;
  } else if (d == 0x80) {
    if (pos + 9 > f.size() || f[pos + 8] != kTransfer || be32(base + pos + 1) != 0 ||
        (be32(base + pos + 5) & 0xffffff00u) != 0) {
      return std::nullopt;
    }
    pos += 9;
  } else {
    return std::nullopt;
  }
  Parsed p;
  p.descriptor_end = pos;
  auto list = static_cast<unsigned char>(f[pos]);
  std::size_t size = 0;
  if (list == 0xc0 && pos + 3 <= f.size()) {
    size = static_cast<unsigned char>(f[pos + 1]);
    p.count = static_cast<unsigned char>(f[pos + 2]);
    p.list_end = pos + 2 + size;
    pos += 3;
  } else if (list == 0xd0 && pos + 9 <= f.size()) {
    size = be32(base + pos + 1);
    p.count = be32(base + pos + 5);
    p.list_end = pos + 5 + size;
    pos += 9;
  } else {
    return std::nullopt;  // list0: a transfer has at least a handle
  }
  if (p.list_end > f.size() || pos > p.list_end) return std::nullopt;
  p.rest = p.list_end;
  for (std::uint32_t i = 0; i < 6 && i < p.count; ++i) {
    if (i == 4) p.rest = pos;
    auto n = value_length(base + pos, base + p.list_end);
    if (!n) return std::nullopt;
    p.fields[i] = f.substr(pos, *n);
    pos += *n;
  }
  return p;
}

}  // namespace

core::Status TransferFormatter::feed(std::string_view in, std::string& out) {
  std::string joined;
  if (!partial_.empty()) {
    joined = std::move(partial_);
    joined.append(in);
    in = joined;
  }
  partial_.clear();
  std::string produced;
  std::size_t pos = 0;
  while (in.size() - pos >= kFrameHeader) {
    std::string_view rest = in.substr(pos);
    if (rest.substr(0, 4) == "AMQP") {
      produced.append(rest.substr(0, kFrameHeader));
      pos += kFrameHeader;
      continue;
    }
    std::uint32_t size = be32(rest.data());
    if (size < kFrameHeader || static_cast<unsigned char>(rest[4]) < 2) {
      return core::Status(core::Code::kInvalidArgument,
                          "not AMQP framing: frame size " + std::to_string(size));
    }
    if (rest.size() < size) break;
    if (core::Status s = frame(rest.substr(0, size), produced); !s.ok()) return s;
    pos += size;
  }
  partial_.assign(in.substr(pos));
  out.append(produced);
  return {};
}

core::Status TransferFormatter::frame(std::string_view f, std::string& out) {
  auto p = parse_transfer(f);
  std::optional<std::uint32_t> wanted;
  if (p && p->count >= 3 && !p->fields[2].empty() && p->fields[2][0] != 0x40) {
    std::string_view tag = p->fields[2];
    tag.remove_prefix(static_cast<unsigned char>(tag[0]) == 0xa0 ? 2 : 5);
    wanted = format_(tag);
  }
  if (!wanted) {
    out.append(f);
    return {};
  }
  std::string_view more = p->fields[5];
  if (more == "\x41" || more == std::string_view("\x56\x01", 2)) {
    // more = true: the frame is full up to max-frame-size and cannot grow.
    return core::Status(core::Code::kInvalidArgument,
                        "a delivery marked for message-format " + std::to_string(*wanted) +
                            " spans several frames");
  }
  // The list's content: the three fields before message-format, the new message-format, the
  // fields after it.
  std::string content;
  for (int i = 0; i < 3; ++i) content.append(p->fields[i]);
  content.push_back(static_cast<char>(0x70));
  put_be32(content, *wanted);
  content.append(f.substr(p->rest, p->list_end - p->rest));
  std::uint32_t count = std::max<std::uint32_t>(p->count, 4);
  std::string list;
  if (content.size() + 1 <= 255 && count <= 255) {
    list.push_back(static_cast<char>(0xc0));
    list.push_back(static_cast<char>(content.size() + 1));
    list.push_back(static_cast<char>(count));
  } else {
    list.push_back(static_cast<char>(0xd0));
    put_be32(list, static_cast<std::uint32_t>(content.size() + 4));
    put_be32(list, count);
  }
  std::size_t payload = f.size() - p->list_end;
  std::size_t size = p->descriptor_end + list.size() + content.size() + payload;
  std::size_t start = out.size();
  out.append(f.substr(0, p->descriptor_end));
  out.append(list);
  out.append(content);
  out.append(f.substr(p->list_end));
  char sz[4] = {static_cast<char>(size >> 24), static_cast<char>(size >> 16),
                static_cast<char>(size >> 8), static_cast<char>(size)};
  std::memcpy(out.data() + start, sz, 4);
  return {};
}

std::optional<TransferFields> read_transfer_fields(std::string_view f) {
  auto p = parse_transfer(f);
  if (!p) return std::nullopt;
  TransferFields t;
  if (p->count >= 3 && !p->fields[2].empty() && p->fields[2][0] != 0x40) {
    std::string_view tag = p->fields[2];
    tag.remove_prefix(static_cast<unsigned char>(tag[0]) == 0xa0 ? 2 : 5);
    t.delivery_tag = tag;
  }
  if (p->count >= 4 && !p->fields[3].empty()) t.message_format = uint_value(p->fields[3]);
  return t;
}

}  // namespace holdfast::amqp
