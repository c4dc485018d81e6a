#include "protocols/mqtt/detail/properties.h"

#include <string>

#include "protocols/mqtt/topic.h"

namespace holdfast::mqtt::detail {

namespace {

constexpr std::uint64_t bits(std::initializer_list<int> ids) {
  std::uint64_t mask = 0;
  for (int id : ids) mask |= std::uint64_t{1} << id;
  return mask;
}

// Which property identifiers each context allows (MQTT 5 table 2-4).
constexpr std::uint64_t allowed_mask(PropertyContext context) {
  switch (context) {
    case PropertyContext::kConnect:
      return bits({0x11, 0x15, 0x16, 0x17, 0x19, 0x21, 0x22, 0x26, 0x27});
    case PropertyContext::kWill:
      return bits({0x01, 0x02, 0x03, 0x08, 0x09, 0x18, 0x26});
    case PropertyContext::kConnack:
      return bits({0x11, 0x12, 0x13, 0x15, 0x16, 0x1A, 0x1C, 0x1F, 0x21, 0x22, 0x24, 0x25, 0x26,
                   0x27, 0x28, 0x29, 0x2A});
    case PropertyContext::kPublish:
      return bits({0x01, 0x02, 0x03, 0x08, 0x09, 0x0B, 0x23, 0x26});
    case PropertyContext::kPublishResponse:
    case PropertyContext::kSuback:
    case PropertyContext::kUnsuback:
      return bits({0x1F, 0x26});
    case PropertyContext::kSubscribe:
      return bits({0x0B, 0x26});
    case PropertyContext::kUnsubscribe:
      return bits({0x26});
    case PropertyContext::kDisconnect:
      return bits({0x11, 0x1C, 0x1F, 0x26});
    case PropertyContext::kAuth:
      return bits({0x15, 0x16, 0x1F, 0x26});
  }
  return 0;
}

bool allowed(PropertyContext context, std::uint8_t id) {
  return id < 64 && ((allowed_mask(context) >> id) & 1) != 0;
}

std::string where(std::uint8_t id, PropertyContext context) {
  std::string s(property_name(id));
  s += " property of ";
  s += context_name(context);
  return s;
}

CodecStatus truncated(std::uint8_t id, PropertyContext context) {
  return codec_error(CodecError::kMalformedPacket, "truncated " + where(id, context));
}

CodecStatus duplicate(std::uint8_t id, PropertyContext context) {
  return codec_error(CodecError::kProtocolError, where(id, context) + " given more than once");
}

// Reads one value into an optional field, refusing a second occurrence.
template <typename T, typename ReadFn>
CodecStatus read_once(std::optional<T>& field, std::uint8_t id, PropertyContext context,
                      ReadFn&& read) {
  if (field) return duplicate(id, context);
  T value{};
  if (!read(value)) return truncated(id, context);
  field = std::move(value);
  return {};
}

}  // namespace

std::string_view context_name(PropertyContext context) {
  switch (context) {
    case PropertyContext::kConnect:
      return "CONNECT";
    case PropertyContext::kWill:
      return "will";
    case PropertyContext::kConnack:
      return "CONNACK";
    case PropertyContext::kPublish:
      return "PUBLISH";
    case PropertyContext::kPublishResponse:
      return "PUBACK/PUBREC/PUBREL/PUBCOMP";
    case PropertyContext::kSubscribe:
      return "SUBSCRIBE";
    case PropertyContext::kSuback:
      return "SUBACK";
    case PropertyContext::kUnsubscribe:
      return "UNSUBSCRIBE";
    case PropertyContext::kUnsuback:
      return "UNSUBACK";
    case PropertyContext::kDisconnect:
      return "DISCONNECT";
    case PropertyContext::kAuth:
      return "AUTH";
  }
  return "packet";
}

std::string_view property_name(std::uint8_t id) {
  switch (id) {
    case 0x01:
      return "Payload Format Indicator";
    case 0x02:
      return "Message Expiry Interval";
    case 0x03:
      return "Content Type";
    case 0x08:
      return "Response Topic";
    case 0x09:
      return "Correlation Data";
    case 0x0B:
      return "Subscription Identifier";
    case 0x11:
      return "Session Expiry Interval";
    case 0x12:
      return "Assigned Client Identifier";
    case 0x13:
      return "Server Keep Alive";
    case 0x15:
      return "Authentication Method";
    case 0x16:
      return "Authentication Data";
    case 0x17:
      return "Request Problem Information";
    case 0x18:
      return "Will Delay Interval";
    case 0x19:
      return "Request Response Information";
    case 0x1A:
      return "Response Information";
    case 0x1C:
      return "Server Reference";
    case 0x1F:
      return "Reason String";
    case 0x21:
      return "Receive Maximum";
    case 0x22:
      return "Topic Alias Maximum";
    case 0x23:
      return "Topic Alias";
    case 0x24:
      return "Maximum QoS";
    case 0x25:
      return "Retain Available";
    case 0x26:
      return "User Property";
    case 0x27:
      return "Maximum Packet Size";
    case 0x28:
      return "Wildcard Subscription Available";
    case 0x29:
      return "Subscription Identifier Available";
    case 0x2A:
      return "Shared Subscription Available";
  }
  return "unknown property";
}

CodecStatus read_properties(Reader& reader, PropertyContext context, Properties& out) {
  std::uint32_t length = 0;
  if (!reader.varint(length)) {
    return codec_error(CodecError::kMalformedPacket, "truncated or over-long Property Length in " +
                                                         std::string(context_name(context)));
  }
  std::string_view list;
  if (!reader.take(length, list)) {
    return codec_error(CodecError::kMalformedPacket,
                       "Property Length " + std::to_string(length) + " of " +
                           std::string(context_name(context)) + " runs past the packet");
  }
  Reader r(list);
  while (!r.empty()) {
    std::uint8_t id = 0;
    (void)r.u8(id);  // cannot fail: r is not empty
    if (!allowed(context, id)) {
      std::string what = property_name(id) == "unknown property"
                             ? "unknown property identifier " + std::to_string(id)
                             : std::string(property_name(id)) + " property not allowed";
      return codec_error(CodecError::kMalformedPacket,
                         what + " in " + std::string(context_name(context)));
    }
    const auto u8 = [&r](std::uint8_t& v) { return r.u8(v); };
    const auto u16 = [&r](std::uint16_t& v) { return r.u16(v); };
    const auto u32 = [&r](std::uint32_t& v) { return r.u32(v); };
    const auto str = [&r](std::string& v) { return r.string(v); };
    CodecStatus s;
    switch (id) {
      case 0x01:
        s = read_once(out.payload_format_indicator, id, context, u8);
        break;
      case 0x02:
        s = read_once(out.message_expiry_interval, id, context, u32);
        break;
      case 0x03:
        s = read_once(out.content_type, id, context, str);
        break;
      case 0x08:
        s = read_once(out.response_topic, id, context, str);
        break;
      case 0x09:
        s = read_once(out.correlation_data, id, context, str);
        break;
      case 0x0B: {
        std::uint32_t v = 0;
        if (!r.varint(v)) return truncated(id, context);
        if (context == PropertyContext::kSubscribe && !out.subscription_identifiers.empty()) {
          return duplicate(id, context);
        }
        out.subscription_identifiers.push_back(v);
        break;
      }
      case 0x11:
        s = read_once(out.session_expiry_interval, id, context, u32);
        break;
      case 0x12:
        s = read_once(out.assigned_client_identifier, id, context, str);
        break;
      case 0x13:
        s = read_once(out.server_keep_alive, id, context, u16);
        break;
      case 0x15:
        s = read_once(out.authentication_method, id, context, str);
        break;
      case 0x16:
        s = read_once(out.authentication_data, id, context, str);
        break;
      case 0x18:
        s = read_once(out.will_delay_interval, id, context, u32);
        break;
      case 0x1A:
        s = read_once(out.response_information, id, context, str);
        break;
      case 0x1C:
        s = read_once(out.server_reference, id, context, str);
        break;
      case 0x1F:
        s = read_once(out.reason_string, id, context, str);
        break;
      case 0x21:
        s = read_once(out.receive_maximum, id, context, u16);
        break;
      case 0x22:
        s = read_once(out.topic_alias_maximum, id, context, u16);
        break;
      case 0x23:
        s = read_once(out.topic_alias, id, context, u16);
        break;
      case 0x24:
        s = read_once(out.maximum_qos, id, context, u8);
        break;
      case 0x26: {
        std::pair<std::string, std::string> kv;
        if (!r.string(kv.first) || !r.string(kv.second)) return truncated(id, context);
        out.user_properties.push_back(std::move(kv));
        break;
      }
      case 0x27:
        s = read_once(out.maximum_packet_size, id, context, u32);
        break;
      case 0x17:
      case 0x19:
      case 0x25:
      case 0x28:
      case 0x29:
      case 0x2A: {
        std::optional<bool>& field = id == 0x17   ? out.request_problem_information
                                     : id == 0x19 ? out.request_response_information
                                     : id == 0x25 ? out.retain_available
                                     : id == 0x28 ? out.wildcard_subscription_available
                                     : id == 0x29 ? out.subscription_identifiers_available
                                                  : out.shared_subscription_available;
        if (field) return duplicate(id, context);
        std::uint8_t b = 0;
        if (!r.u8(b)) return truncated(id, context);
        if (b > 1) {
          return codec_error(CodecError::kProtocolError,
                             where(id, context) + " is " + std::to_string(b) + ", not 0 or 1");
        }
        field = b == 1;
        break;
      }
      default:
        return truncated(id, context);  // unreachable: allowed() knows every id
    }
    if (!s.ok()) return s;
  }
  return {};
}

CodecStatus validate_properties(const Properties& properties, PropertyContext context) {
  CodecStatus status;
  const auto fail = [&status](CodecError error, std::string message) {
    if (status.ok()) status = codec_error(error, std::move(message));
  };
  for_each_property(properties, [&](std::uint8_t id, const auto& value) {
    if (!status.ok()) return;
    using T = std::decay_t<decltype(value)>;
    if (!allowed(context, id)) {
      fail(CodecError::kMalformedPacket, std::string(property_name(id)) +
                                             " property not allowed in " +
                                             std::string(context_name(context)));
      return;
    }
    if constexpr (std::is_same_v<T, std::uint8_t>) {
      if (value > 1) {
        fail(CodecError::kProtocolError,
             where(id, context) + " is " + std::to_string(value) + ", not 0 or 1");
      }
    } else if constexpr (std::is_same_v<T, std::uint16_t> || std::is_same_v<T, std::uint32_t>) {
      // Receive Maximum, Topic Alias and Maximum Packet Size must not be 0.
      if (value == 0 && (id == 0x21 || id == 0x23 || id == 0x27)) {
        fail(CodecError::kProtocolError, where(id, context) + " is 0");
      }
    } else if constexpr (std::is_same_v<T, VarInt>) {
      if (value.value == 0 || value.value > kMaxVarInt) {
        fail(CodecError::kProtocolError,
             where(id, context) + " is " + std::to_string(value.value) + ", not in 1..268435455");
      }
    } else if constexpr (std::is_same_v<T, Utf8Pair>) {
      if (value.key.size() > kMaxFieldLength || value.value.size() > kMaxFieldLength) {
        fail(CodecError::kInvalidArgument, where(id, context) + " longer than 65535 bytes");
      } else if (!is_valid_utf8(value.key) || !is_valid_utf8(value.value)) {
        fail(CodecError::kInvalidUtf8, "invalid UTF-8 in " + where(id, context));
      }
    } else {
      if (value.value.size() > kMaxFieldLength) {
        fail(CodecError::kInvalidArgument, where(id, context) + " longer than 65535 bytes");
      } else if constexpr (std::is_same_v<T, Utf8>) {
        if (!is_valid_utf8(value.value)) {
          fail(CodecError::kInvalidUtf8, "invalid UTF-8 in " + where(id, context));
        } else if (id == 0x08 && !is_valid_topic_name(value.value)) {
          fail(CodecError::kProtocolError, where(id, context) + " is not a valid topic name");
        }
      }
    }
  });
  if (!status.ok()) return status;
  if (context == PropertyContext::kSubscribe && properties.subscription_identifiers.size() > 1) {
    return duplicate(0x0B, context);
  }
  if (properties.authentication_data && !properties.authentication_method) {
    return codec_error(CodecError::kProtocolError,
                       "Authentication Data without Authentication Method in " +
                           std::string(context_name(context)));
  }
  return {};
}

}  // namespace holdfast::mqtt::detail
