#include "protocols/mqtt/detail/parser.h"

#include <string>

#include "protocols/mqtt/detail/properties.h"
#include "protocols/mqtt/detail/validate.h"
#include "protocols/mqtt/detail/wire.h"

namespace holdfast::mqtt::detail {

namespace {

CodecStatus malformed(std::string message) {
  return codec_error(CodecError::kMalformedPacket, std::move(message));
}

CodecStatus truncated(PacketType type, std::string_view field) {
  return malformed(std::string(packet_type_name(type)) + " truncated in " + std::string(field));
}

CodecStatus trailing(PacketType type, std::size_t n) {
  return malformed(std::string(packet_type_name(type)) + " has " + std::to_string(n) +
                   " unexpected bytes at its end");
}

// Parses the body of one packet type; `v5_` selects MQTT 5 fields.
class Parser {
 public:
  Parser(std::uint8_t first_byte, std::string_view body, ProtocolVersion version)
      : flags_(first_byte & 0x0F),
        r_(body),
        version_(version),
        v5_(version == ProtocolVersion::kV5) {}

  CodecStatus connect(Packet& out) {
    Connect p;
    std::string name;
    std::uint8_t level = 0;
    if (!r_.string(name)) return truncated(PacketType::kConnect, "protocol name");
    if (!r_.u8(level)) return truncated(PacketType::kConnect, "protocol level");
    if (name == "MQIsdp" && level == 3) {
      p.version = ProtocolVersion::kV31;
    } else if (name == "MQTT" && (level == 4 || level == 5)) {
      p.version = static_cast<ProtocolVersion>(level);
    } else {
      std::string printable;
      for (char c : name) printable += (c >= 0x20 && c < 0x7F) ? c : '?';
      return codec_error(CodecError::kUnsupportedProtocol,
                         "CONNECT with protocol name '" + printable + "' and level " +
                             std::to_string(level) + " (supported: MQIsdp 3, MQTT 4, MQTT 5)");
    }
    version_ = p.version;
    v5_ = p.version == ProtocolVersion::kV5;

    std::uint8_t flags = 0;
    if (!r_.u8(flags) || !r_.u16(p.keep_alive)) {
      return truncated(PacketType::kConnect, "connect flags or keep alive");
    }
    const bool has_username = (flags & 0x80) != 0;
    const bool has_password = (flags & 0x40) != 0;
    const bool will_retain = (flags & 0x20) != 0;
    const std::uint8_t will_qos = (flags >> 3) & 0x03;
    const bool has_will = (flags & 0x04) != 0;
    p.clean_start = (flags & 0x02) != 0;
    if ((flags & 0x01) != 0 && version_ != ProtocolVersion::kV31) {
      return codec_error(CodecError::kInvalidFlags, "CONNECT reserved flag is set (MQTT-3.1.2-3)");
    }
    if (will_qos == 3) return codec_error(CodecError::kInvalidFlags, "CONNECT will QoS is 3");
    if (!has_will && (will_qos != 0 || will_retain)) {
      return codec_error(CodecError::kInvalidFlags,
                         "CONNECT will QoS or will retain set without the will flag");
    }
    if (has_password && !has_username && !v5_) {
      return codec_error(CodecError::kInvalidFlags,
                         "CONNECT password flag set without the user name flag (MQTT-3.1.2-22)");
    }
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kConnect, p.properties); !s.ok()) return s;
    }
    if (!r_.string(p.client_id)) return truncated(PacketType::kConnect, "client identifier");
    if (has_will) {
      Will& will = p.will.emplace();
      will.qos = static_cast<QoS>(will_qos);
      will.retain = will_retain;
      if (v5_) {
        if (auto s = read_properties(r_, PropertyContext::kWill, will.properties); !s.ok()) {
          return s;
        }
      }
      if (!r_.string(will.topic)) return truncated(PacketType::kConnect, "will topic");
      if (!r_.string(will.payload)) return truncated(PacketType::kConnect, "will payload");
    }
    if (has_username && !r_.string(p.username.emplace())) {
      return truncated(PacketType::kConnect, "user name");
    }
    if (has_password && !r_.string(p.password.emplace())) {
      return truncated(PacketType::kConnect, "password");
    }
    return finish(PacketType::kConnect, std::move(p), out);
  }

  CodecStatus connack(Packet& out) {
    Connack p;
    std::uint8_t ack_flags = 0;
    std::uint8_t code = 0;
    if (!r_.u8(ack_flags) || !r_.u8(code)) {
      return truncated(PacketType::kConnack, "acknowledge flags or return code");
    }
    if (version_ != ProtocolVersion::kV31) {  // 3.1 has an unused byte here
      if ((ack_flags & 0xFE) != 0) {
        return codec_error(CodecError::kInvalidFlags, "CONNACK reserved acknowledge flags set");
      }
      p.session_present = (ack_flags & 0x01) != 0;
    }
    if (v5_) {
      p.reason_code = static_cast<ReasonCode>(code);
      // Lenient: a CONNACK of exactly two bytes is taken to have no properties.
      if (!r_.empty()) {
        if (auto s = read_properties(r_, PropertyContext::kConnack, p.properties); !s.ok()) {
          return s;
        }
      }
    } else {
      if (code > 5) {
        return codec_error(CodecError::kProtocolError,
                           "CONNACK return code " + std::to_string(code) + " is reserved");
      }
      p.reason_code = to_reason_code(static_cast<ConnackReturnCode>(code));
    }
    return finish(PacketType::kConnack, std::move(p), out);
  }

  CodecStatus publish(Packet& out) {
    Publish p;
    p.dup = (flags_ & 0x08) != 0;
    p.qos = static_cast<QoS>((flags_ >> 1) & 0x03);
    p.retain = (flags_ & 0x01) != 0;
    if (!r_.string(p.topic)) return truncated(PacketType::kPublish, "topic name");
    if (p.qos != QoS::kAtMostOnce && !r_.u16(p.packet_id)) {
      return truncated(PacketType::kPublish, "packet identifier");
    }
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kPublish, p.properties); !s.ok()) return s;
    }
    p.payload.assign(r_.rest());
    return finish(PacketType::kPublish, std::move(p), out);
  }

  template <PacketType kType>
  CodecStatus publish_response(Packet& out) {
    PublishResponse<kType> p;
    if (!r_.u16(p.packet_id)) return truncated(kType, "packet identifier");
    if (v5_) {
      // Reason code and properties may be left out (MQTT 5 section 3.4.2.1).
      std::uint8_t code = 0;
      if (!r_.empty()) {
        (void)r_.u8(code);
        p.reason_code = static_cast<ReasonCode>(code);
      }
      if (!r_.empty()) {
        if (auto s = read_properties(r_, PropertyContext::kPublishResponse, p.properties);
            !s.ok()) {
          return s;
        }
      }
    }
    return finish(kType, std::move(p), out);
  }

  CodecStatus subscribe(Packet& out) {
    Subscribe p;
    if (!r_.u16(p.packet_id)) return truncated(PacketType::kSubscribe, "packet identifier");
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kSubscribe, p.properties); !s.ok()) {
        return s;
      }
    }
    while (!r_.empty()) {
      Subscription& sub = p.subscriptions.emplace_back();
      std::uint8_t options = 0;
      if (!r_.string(sub.filter)) return truncated(PacketType::kSubscribe, "topic filter");
      if (!r_.u8(options)) return truncated(PacketType::kSubscribe, "subscription options");
      const std::uint8_t reserved = v5_ ? 0xC0 : 0xFC;
      if ((options & reserved) != 0) {
        return codec_error(CodecError::kInvalidFlags,
                           "SUBSCRIBE subscription options have reserved bits set");
      }
      if ((options & 0x03) == 3) return malformed("SUBSCRIBE with QoS 3");
      sub.qos = static_cast<QoS>(options & 0x03);
      sub.no_local = (options & 0x04) != 0;
      sub.retain_as_published = (options & 0x08) != 0;
      sub.retain_handling = static_cast<RetainHandling>((options >> 4) & 0x03);
    }
    return finish(PacketType::kSubscribe, std::move(p), out);
  }

  CodecStatus suback(Packet& out) {
    Suback p;
    if (!r_.u16(p.packet_id)) return truncated(PacketType::kSuback, "packet identifier");
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kSuback, p.properties); !s.ok()) return s;
    }
    for (char c : r_.rest()) {
      const auto code = static_cast<std::uint8_t>(c);
      if (!v5_ && code > 2 && code != 0x80) {
        return codec_error(CodecError::kProtocolError,
                           "SUBACK return code " + std::to_string(code) + " is reserved");
      }
      p.reason_codes.push_back(static_cast<ReasonCode>(code));
    }
    return finish(PacketType::kSuback, std::move(p), out);
  }

  CodecStatus unsubscribe(Packet& out) {
    Unsubscribe p;
    if (!r_.u16(p.packet_id)) return truncated(PacketType::kUnsubscribe, "packet identifier");
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kUnsubscribe, p.properties); !s.ok()) {
        return s;
      }
    }
    while (!r_.empty()) {
      if (!r_.string(p.filters.emplace_back())) {
        return truncated(PacketType::kUnsubscribe, "topic filter");
      }
    }
    return finish(PacketType::kUnsubscribe, std::move(p), out);
  }

  CodecStatus unsuback(Packet& out) {
    Unsuback p;
    if (!r_.u16(p.packet_id)) return truncated(PacketType::kUnsuback, "packet identifier");
    if (v5_) {
      if (auto s = read_properties(r_, PropertyContext::kUnsuback, p.properties); !s.ok()) {
        return s;
      }
      for (char c : r_.rest()) p.reason_codes.push_back(static_cast<ReasonCode>(c));
    }
    return finish(PacketType::kUnsuback, std::move(p), out);
  }

  // DISCONNECT and AUTH: MQTT 5 reason code and properties, both optional.
  template <typename T>
  CodecStatus reason_and_properties(PacketType type, PropertyContext context, Packet& out) {
    T p;
    if (v5_) {
      std::uint8_t code = 0;
      if (!r_.empty()) {
        (void)r_.u8(code);
        p.reason_code = static_cast<ReasonCode>(code);
      }
      if (!r_.empty()) {
        if (auto s = read_properties(r_, context, p.properties); !s.ok()) return s;
      }
    }
    return finish(type, std::move(p), out);
  }

  template <typename T>
  CodecStatus empty_packet(PacketType type, Packet& out) {
    return finish(type, T{}, out);
  }

 private:
  template <typename T>
  CodecStatus finish(PacketType type, T&& packet, Packet& out) {
    if (!r_.empty()) return trailing(type, r_.remaining());
    out = std::forward<T>(packet);
    return validate_packet(out, version_);
  }

  std::uint8_t flags_;
  Reader r_;
  ProtocolVersion version_;
  bool v5_;
};

// The fixed header flags every packet type but PUBLISH must carry (MQTT-2.2.2-1).
std::uint8_t required_flags(PacketType type) {
  switch (type) {
    case PacketType::kPubrel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      return 0x02;
    default:
      return 0x00;
  }
}

}  // namespace

CodecStatus check_first_byte(std::uint8_t first_byte, std::optional<ProtocolVersion> version) {
  const auto type = static_cast<PacketType>(first_byte >> 4);
  const std::uint8_t flags = first_byte & 0x0F;
  if (first_byte >> 4 == 0) {
    return codec_error(CodecError::kInvalidPacketType, "reserved packet type 0");
  }
  if (!version && type != PacketType::kConnect) {
    return codec_error(
        CodecError::kInvalidPacketType,
        std::string(packet_type_name(type)) + " before CONNECT: the first packet must be CONNECT");
  }
  if (type == PacketType::kAuth && version && *version != ProtocolVersion::kV5) {
    return codec_error(CodecError::kInvalidPacketType,
                       "packet type 15 (AUTH) is reserved below MQTT 5");
  }
  if (type == PacketType::kPublish) {
    if ((flags & 0x06) == 0x06) return malformed("PUBLISH with QoS 3 (MQTT-3.3.1-4)");
    if ((flags & 0x08) != 0 && (flags & 0x06) == 0) {
      return codec_error(CodecError::kProtocolError,
                         "PUBLISH with QoS 0 and DUP set (MQTT-3.3.1-2)");
    }
    return {};
  }
  // MQTT 3.1 gave these bits meaning (DUP, QoS) but nobody relies on them: as mosquitto does,
  // accept anything there for 3.1 except on CONNECT.
  if (version == ProtocolVersion::kV31 && type != PacketType::kConnect) return {};
  if (flags != required_flags(type)) {
    return codec_error(CodecError::kInvalidFlags,
                       std::string(packet_type_name(type)) + " fixed header flags are " +
                           std::to_string(flags) + ", must be " +
                           std::to_string(required_flags(type)) + " (MQTT-2.2.2-2)");
  }
  return {};
}

CodecStatus parse_packet(std::uint8_t first_byte, std::string_view body,
                         std::optional<ProtocolVersion> version, Packet& out) {
  const auto type = static_cast<PacketType>(first_byte >> 4);
  Parser parser(first_byte, body, version.value_or(ProtocolVersion::kV311));
  const bool v5 = version == ProtocolVersion::kV5;
  switch (type) {
    case PacketType::kConnect:
      return parser.connect(out);
    case PacketType::kConnack:
      return parser.connack(out);
    case PacketType::kPublish:
      return parser.publish(out);
    case PacketType::kPuback:
      return parser.publish_response<PacketType::kPuback>(out);
    case PacketType::kPubrec:
      return parser.publish_response<PacketType::kPubrec>(out);
    case PacketType::kPubrel:
      return parser.publish_response<PacketType::kPubrel>(out);
    case PacketType::kPubcomp:
      return parser.publish_response<PacketType::kPubcomp>(out);
    case PacketType::kSubscribe:
      return parser.subscribe(out);
    case PacketType::kSuback:
      return parser.suback(out);
    case PacketType::kUnsubscribe:
      return parser.unsubscribe(out);
    case PacketType::kUnsuback:
      return parser.unsuback(out);
    case PacketType::kPingreq:
      return parser.empty_packet<Pingreq>(type, out);
    case PacketType::kPingresp:
      return parser.empty_packet<Pingresp>(type, out);
    case PacketType::kDisconnect:
      return parser.reason_and_properties<Disconnect>(type, PropertyContext::kDisconnect, out);
    case PacketType::kAuth:
      if (!v5) break;
      return parser.reason_and_properties<Auth>(type, PropertyContext::kAuth, out);
  }
  return codec_error(CodecError::kInvalidPacketType,
                     "packet type " + std::to_string(first_byte >> 4) + " is reserved");
}

}  // namespace holdfast::mqtt::detail
