#include "protocols/amqp/message_codec.h"

#include <proton/codec.h>

#include <array>
#include <cstdio>
#include <memory>

namespace holdfast::amqp {
namespace {

enum Section : std::uint64_t {
  kHeader = 0x70,
  kDeliveryAnnotations = 0x71,
  kMessageAnnotations = 0x72,
  kProperties = 0x73,
  kApplicationProperties = 0x74,
  kData = 0x75,
  kAmqpSequence = 0x76,
  kAmqpValue = 0x77,
  kFooter = 0x78,
};

struct DataDeleter {
  void operator()(pn_data_t* d) const { pn_data_free(d); }
};
using DataPtr = std::unique_ptr<pn_data_t, DataDeleter>;

std::optional<std::uint64_t> symbolic_descriptor(std::string_view name) {
  static constexpr std::array<std::pair<std::string_view, std::uint64_t>, 9> kNames{{
      {"amqp:header:list", kHeader},
      {"amqp:delivery-annotations:map", kDeliveryAnnotations},
      {"amqp:message-annotations:map", kMessageAnnotations},
      {"amqp:properties:list", kProperties},
      {"amqp:application-properties:map", kApplicationProperties},
      {"amqp:data:binary", kData},
      {"amqp:amqp-sequence:list", kAmqpSequence},
      {"amqp:amqp-value:*", kAmqpValue},
      {"amqp:footer:map", kFooter},
  }};
  for (const auto& [n, code] : kNames) {
    if (n == name) return code;
  }
  return std::nullopt;
}

// Bytes of a section before its value: the 0x00 constructor and the descriptor's encoding.
std::optional<std::size_t> descriptor_length(std::string_view section) {
  if (section.size() < 2 || section[0] != 0) return std::nullopt;
  auto code = static_cast<unsigned char>(section[1]);
  auto byte = [&](std::size_t i) {
    return i < section.size() ? static_cast<unsigned char>(section[i]) : 0u;
  };
  switch (code) {
    case 0x44:
      return 2;
    case 0x53:
      return 3;
    case 0x80:
      return 10;
    case 0xa3:
      return 3 + byte(2);
    case 0xb3:
      return 6 + ((std::size_t{byte(2)} << 24) | (byte(3) << 16) | (byte(4) << 8) | byte(5));
    default:
      return std::nullopt;
  }
}

std::string hex(const char* bytes, std::size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (std::size_t i = 0; i < n; ++i) {
    auto b = static_cast<unsigned char>(bytes[i]);
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

std::string uuid_text(const pn_uuid_t& u) {
  std::string h = hex(u.bytes, 16);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) +
         "-" + h.substr(20);
}

// The current node of `d` as text (application-property values, ids).
std::string stringify(pn_data_t* d) {
  switch (pn_data_type(d)) {
    case PN_STRING: {
      auto b = pn_data_get_string(d);
      return {b.start, b.size};
    }
    case PN_SYMBOL: {
      auto b = pn_data_get_symbol(d);
      return {b.start, b.size};
    }
    case PN_BINARY: {
      auto b = pn_data_get_binary(d);
      return hex(b.start, b.size);
    }
    case PN_BOOL:
      return pn_data_get_bool(d) ? "true" : "false";
    case PN_UBYTE:
      return std::to_string(pn_data_get_ubyte(d));
    case PN_BYTE:
      return std::to_string(pn_data_get_byte(d));
    case PN_USHORT:
      return std::to_string(pn_data_get_ushort(d));
    case PN_SHORT:
      return std::to_string(pn_data_get_short(d));
    case PN_UINT:
      return std::to_string(pn_data_get_uint(d));
    case PN_INT:
      return std::to_string(pn_data_get_int(d));
    case PN_CHAR:
      return std::to_string(pn_data_get_char(d));
    case PN_ULONG:
      return std::to_string(pn_data_get_ulong(d));
    case PN_LONG:
      return std::to_string(pn_data_get_long(d));
    case PN_TIMESTAMP:
      return std::to_string(pn_data_get_timestamp(d));
    case PN_FLOAT:
      return std::to_string(pn_data_get_float(d));
    case PN_DOUBLE:
      return std::to_string(pn_data_get_double(d));
    case PN_UUID:
      return uuid_text(pn_data_get_uuid(d));
    default:
      return {};
  }
}

void decode_properties(pn_data_t* d, DecodedMessage& m) {
  if (pn_data_type(d) != PN_LIST) return;
  std::size_t n = pn_data_get_list(d);
  pn_data_enter(d);
  for (std::size_t i = 0; i < n && pn_data_next(d); ++i) {
    if (pn_data_type(d) == PN_NULL) continue;
    switch (i) {
      case 0:
        m.properties.message_id = stringify(d);
        break;
      case 2:
        m.to = stringify(d);
        break;
      case 3:
        m.subject = stringify(d);
        break;
      case 4:
        m.reply_to = stringify(d);
        break;
      case 5:
        m.properties.correlation_id = stringify(d);
        break;
      case 6:
        m.properties.content_type = stringify(d);
        break;
      case 7:
        m.properties.content_encoding = stringify(d);
        break;
      case 9:
        if (pn_data_type(d) == PN_TIMESTAMP)
          m.properties.creation_time_ms = pn_data_get_timestamp(d);
        break;
      default:
        break;
    }
  }
  pn_data_exit(d);
}

void decode_application_properties(pn_data_t* d, DecodedMessage& m) {
  if (pn_data_type(d) != PN_MAP) return;
  std::size_t n = pn_data_get_map(d);
  pn_data_enter(d);
  for (std::size_t i = 0; i < n; i += 2) {
    if (!pn_data_next(d)) break;
    std::string key = stringify(d);
    if (!pn_data_next(d)) break;
    m.properties.user.emplace_back(std::move(key), stringify(d));
  }
  pn_data_exit(d);
}

std::uint32_t header_delivery_count(pn_data_t* d) {
  if (pn_data_type(d) != PN_LIST) return 0;
  std::size_t n = pn_data_get_list(d);
  std::uint32_t count = 0;
  pn_data_enter(d);
  for (std::size_t i = 0; i < n && pn_data_next(d); ++i) {
    if (i == 4 && pn_data_type(d) == PN_UINT) count = pn_data_get_uint(d);
  }
  pn_data_exit(d);
  return count;
}

core::Status bad(std::string why) {
  return {core::Code::kInvalidArgument, "malformed AMQP message: " + std::move(why)};
}

}  // namespace

core::Result<DecodedMessage> decode_message(std::string_view bytes) {
  DecodedMessage m;
  DataPtr data(pn_data(16));
  pn_data_t* d = data.get();
  std::size_t pos = 0;
  std::uint64_t last = 0;
  std::size_t kept_from = std::string_view::npos;
  while (pos < bytes.size()) {
    pn_data_clear(d);
    ssize_t used = pn_data_decode(d, bytes.data() + pos, bytes.size() - pos);
    if (used <= 0) return core::error(bad("undecodable bytes at offset " + std::to_string(pos)));
    std::string_view section = bytes.substr(pos, static_cast<std::size_t>(used));
    pn_data_rewind(d);
    if (!pn_data_next(d) || pn_data_type(d) != PN_DESCRIBED) {
      return core::error(
          bad("a section that is not a described type at offset " + std::to_string(pos)));
    }
    pn_data_enter(d);
    pn_data_next(d);
    std::optional<std::uint64_t> code;
    if (pn_data_type(d) == PN_ULONG) {
      code = pn_data_get_ulong(d);
    } else if (pn_data_type(d) == PN_SYMBOL) {
      auto s = pn_data_get_symbol(d);
      code = symbolic_descriptor({s.start, s.size});
    }
    if (!code || *code < kHeader || *code > kFooter) {
      return core::error(bad("unknown section at offset " + std::to_string(pos)));
    }
    bool body = *code >= kData && *code <= kAmqpValue;
    // Sections come in order; only data and amqp-sequence may repeat.
    if (*code < last || (*code == last && *code != kData && *code != kAmqpSequence) ||
        (last >= kData && last <= kAmqpValue && body && *code != last)) {
      return core::error(bad("sections out of order at offset " + std::to_string(pos)));
    }
    last = *code;
    pn_data_next(d);
    if (*code >= kMessageAnnotations && kept_from == std::string_view::npos) kept_from = pos;
    auto value_at = descriptor_length(section);
    if (!value_at || *value_at > section.size()) {
      return core::error(bad("bad descriptor at offset " + std::to_string(pos)));
    }
    switch (*code) {
      case kHeader:
        m.delivery_count = header_delivery_count(d);
        break;
      case kProperties:
        m.has_bare_properties = true;
        decode_properties(d, m);
        break;
      case kApplicationProperties:
        m.has_bare_properties = true;
        decode_application_properties(d, m);
        break;
      case kData: {
        if (pn_data_type(d) != PN_BINARY) return core::error(bad("data section is not binary"));
        auto b = pn_data_get_binary(d);
        // The binary's bytes lie at the end of the section.
        m.data_sections.push_back(section.substr(section.size() - b.size));
        m.payload.append(b.start, b.size);
        break;
      }
      case kAmqpValue:
        if (pn_data_type(d) == PN_STRING || pn_data_type(d) == PN_BINARY ||
            pn_data_type(d) == PN_SYMBOL) {
          auto b = pn_data_get_bytes(d);
          m.payload.assign(b.start, b.size);
        } else if (pn_data_type(d) != PN_NULL) {
          m.payload.assign(section.substr(*value_at));
        }
        break;
      case kAmqpSequence:
        m.payload.append(section.substr(*value_at));
        break;
      default:
        break;
    }
    m.has_body = m.has_body || body;
    pos += static_cast<std::size_t>(used);
  }
  if (kept_from != std::string_view::npos) m.kept.assign(bytes.substr(kept_from));
  return m;
}

std::optional<std::vector<DecodedMessage>> decode_batch(const DecodedMessage& outer) {
  if (outer.has_bare_properties || outer.data_sections.empty()) return std::nullopt;
  // Only data sections may follow the annotations: `kept` must be exactly those sections.
  std::vector<DecodedMessage> inner;
  inner.reserve(outer.data_sections.size());
  for (std::string_view section : outer.data_sections) {
    auto m = decode_message(section);
    if (!m || !m->has_body) return std::nullopt;
    inner.push_back(std::move(*m));
  }
  return inner;
}

core::Message to_core_message(DecodedMessage decoded) {
  core::Message m;
  m.payload = std::move(decoded.payload);
  m.properties = std::move(decoded.properties);
  m.amqp_bare = std::move(decoded.kept);
  return m;
}

namespace {

void put_string(pn_data_t* d, const std::string& s) {
  pn_data_put_string(d, pn_bytes(s.size(), s.data()));
}
void put_symbol_or_null(pn_data_t* d, const std::string& s) {
  if (s.empty()) {
    pn_data_put_null(d);
  } else {
    pn_data_put_symbol(d, pn_bytes(s.size(), s.data()));
  }
}
void put_string_or_null(pn_data_t* d, const std::string& s) {
  if (s.empty()) {
    pn_data_put_null(d);
  } else {
    put_string(d, s);
  }
}

void append_encoded(pn_data_t* d, std::string& out) {
  ssize_t size = pn_data_encoded_size(d);
  if (size <= 0) return;
  std::size_t at = out.size();
  out.resize(at + static_cast<std::size_t>(size));
  ssize_t n = pn_data_encode(d, out.data() + at, static_cast<std::size_t>(size));
  out.resize(at + static_cast<std::size_t>(n > 0 ? n : 0));
}

}  // namespace

void append_data_section(std::string& out, std::string_view bytes) {
  out.append("\x00\x53\x75", 3);  // described by 0x75: data
  if (bytes.size() <= 255) {
    out.push_back(static_cast<char>(0xa0));
    out.push_back(static_cast<char>(bytes.size()));
  } else {
    out.push_back(static_cast<char>(0xb0));
    auto n = static_cast<std::uint32_t>(bytes.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>(n >> shift));
  }
  out.append(bytes);
}

std::string encode_message(const core::Message& message, std::uint32_t delivery_count) {
  DataPtr data(pn_data(16));
  pn_data_t* d = data.get();
  std::string out;
  // header: durable, priority, ttl, first-acquirer, delivery-count
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, kHeader);
  pn_data_put_list(d);
  pn_data_enter(d);
  pn_data_put_bool(d, true);
  pn_data_put_null(d);
  pn_data_put_null(d);
  pn_data_put_null(d);
  pn_data_put_uint(d, delivery_count);
  pn_data_exit(d);
  pn_data_exit(d);
  append_encoded(d, out);
  if (message.amqp_bare) {
    out += *message.amqp_bare;
    return out;
  }
  const core::Properties& p = message.properties;
  pn_data_clear(d);
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, kProperties);
  pn_data_put_list(d);
  pn_data_enter(d);
  put_string_or_null(d, p.message_id);
  pn_data_put_null(d);  // user-id
  put_string_or_null(d, message.address);
  pn_data_put_null(d);  // subject
  pn_data_put_null(d);  // reply-to
  put_string_or_null(d, p.correlation_id);
  put_symbol_or_null(d, p.content_type);
  put_symbol_or_null(d, p.content_encoding);
  pn_data_put_null(d);  // absolute-expiry-time
  if (p.creation_time_ms) {
    pn_data_put_timestamp(d, *p.creation_time_ms);
  } else {
    pn_data_put_null(d);
  }
  pn_data_exit(d);
  pn_data_exit(d);
  append_encoded(d, out);
  if (!p.user.empty()) {
    pn_data_clear(d);
    pn_data_put_described(d);
    pn_data_enter(d);
    pn_data_put_ulong(d, kApplicationProperties);
    pn_data_put_map(d);
    pn_data_enter(d);
    for (std::size_t i = 0; i < p.user.size(); ++i) {
      bool repeated = false;
      for (std::size_t j = 0; j < i && !repeated; ++j)
        repeated = p.user[j].first == p.user[i].first;
      if (repeated) continue;
      put_string(d, p.user[i].first);
      put_string(d, p.user[i].second);
    }
    pn_data_exit(d);
    pn_data_exit(d);
    append_encoded(d, out);
  }
  pn_data_clear(d);
  pn_data_put_described(d);
  pn_data_enter(d);
  pn_data_put_ulong(d, kData);
  pn_data_put_binary(d, pn_bytes(message.payload.size(), message.payload.data()));
  pn_data_exit(d);
  append_encoded(d, out);
  return out;
}

}  // namespace holdfast::amqp
