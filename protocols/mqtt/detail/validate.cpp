#include "protocols/mqtt/detail/validate.h"

#include <algorithm>
#include <initializer_list>
#include <string>

#include "protocols/mqtt/detail/properties.h"
#include "protocols/mqtt/detail/wire.h"
#include "protocols/mqtt/topic.h"

namespace holdfast::mqtt::detail {

namespace {

std::string hex(std::uint8_t v) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  return std::string("0x") + kDigits[v >> 4] + kDigits[v & 0xF];
}

bool one_of(ReasonCode code, std::initializer_list<std::uint8_t> values) {
  return std::find(values.begin(), values.end(), static_cast<std::uint8_t>(code)) != values.end();
}

// The reason codes MQTT 5 allows in each packet (section 2.4 and each packet's section).
bool reason_code_allowed(PacketType type, ReasonCode code) {
  switch (type) {
    case PacketType::kConnack:
      return one_of(code, {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
                           0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F});
    case PacketType::kPuback:
    case PacketType::kPubrec:
      return one_of(code, {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99});
    case PacketType::kPubrel:
    case PacketType::kPubcomp:
      return one_of(code, {0x00, 0x92});
    case PacketType::kSuback:
      return one_of(code, {0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2});
    case PacketType::kUnsuback:
      return one_of(code, {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91});
    case PacketType::kDisconnect:
      return one_of(code, {0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D,
                           0x8E, 0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99,
                           0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2});
    case PacketType::kAuth:
      return one_of(code, {0x00, 0x18, 0x19});
    default:
      return false;
  }
}

class Validator {
 public:
  explicit Validator(ProtocolVersion version) : v5_(version == ProtocolVersion::kV5) {}

  CodecStatus status() && { return std::move(status_); }

  void check_reason_code(PacketType type, ReasonCode code) {
    if (v5_ && !reason_code_allowed(type, code)) {
      fail(CodecError::kProtocolError, "reason code " + hex(static_cast<std::uint8_t>(code)) +
                                           " is not allowed in " +
                                           std::string(packet_type_name(type)));
    }
  }
  void check_packet_id(PacketType type, std::uint16_t id) {
    if (id == 0) {
      fail(CodecError::kProtocolError,
           std::string(packet_type_name(type)) + " with packet identifier 0");
    }
  }
  void check_qos(QoS qos, std::string_view what) {
    if (static_cast<std::uint8_t>(qos) > 2) {
      fail(CodecError::kMalformedPacket,
           std::string(what) + " QoS is " + std::to_string(static_cast<int>(qos)));
    }
  }
  void check_length(std::string_view field, std::string_view what) {
    if (field.size() > kMaxFieldLength) {
      fail(CodecError::kInvalidArgument,
           std::string(what) + " is " + std::to_string(field.size()) + " bytes, over 65535");
    }
  }
  void check_utf8(std::string_view field, std::string_view what) {
    check_length(field, what);
    if (!is_valid_utf8(field))
      fail(CodecError::kInvalidUtf8, "invalid UTF-8 in " + std::string(what));
  }
  // A topic name: UTF-8, no wildcards, non-empty unless `may_be_empty` (MQTT 5 topic alias).
  void check_topic_name(std::string_view topic, std::string_view what, bool may_be_empty) {
    check_utf8(topic, what);
    if (topic.empty() && !may_be_empty) {
      fail(CodecError::kProtocolError, std::string(what) + " is empty");
    }
    if (auto pos = topic.find_first_of("+#"); pos != std::string_view::npos) {
      fail(CodecError::kProtocolError,
           std::string(what) + " contains a wildcard ('" + topic[pos] + "')");
    }
  }
  void check_filter(std::string_view filter, std::string_view what) {
    check_utf8(filter, what);
    if (filter.empty()) fail(CodecError::kProtocolError, std::string(what) + " is empty");
  }
  void check_properties(const Properties& properties, PropertyContext context) {
    if (v5_ && status_.ok()) status_ = validate_properties(properties, context);
  }
  void fail(CodecError error, std::string message) {
    if (status_.ok()) status_ = codec_error(error, std::move(message));
  }

  void operator()(const Connect& p, ProtocolVersion version) {
    if (p.version != version) {
      fail(CodecError::kInvalidArgument,
           "CONNECT for MQTT " + std::string(protocol_version_name(p.version)) +
               " encoded as MQTT " + std::string(protocol_version_name(version)));
    }
    check_utf8(p.client_id, "CONNECT client identifier");
    if (p.will) {
      check_properties(p.will->properties, PropertyContext::kWill);
      check_topic_name(p.will->topic, "CONNECT will topic", false);
      check_length(p.will->payload, "CONNECT will payload");
      check_qos(p.will->qos, "CONNECT will");
    }
    if (p.username) check_utf8(*p.username, "CONNECT user name");
    if (p.password) check_length(*p.password, "CONNECT password");
    if (p.password && !p.username && !v5_) {
      fail(CodecError::kProtocolError, "CONNECT with a password but no user name (MQTT-3.1.2-22)");
    }
    check_properties(p.properties, PropertyContext::kConnect);
  }
  void operator()(const Connack& p) {
    check_reason_code(PacketType::kConnack, p.reason_code);
    if (p.session_present && p.reason_code != ReasonCode::kSuccess) {
      fail(CodecError::kProtocolError, "CONNACK refusing the connection with Session Present set");
    }
    check_properties(p.properties, PropertyContext::kConnack);
  }
  void operator()(const Publish& p) {
    check_qos(p.qos, "PUBLISH");
    if (p.dup && p.qos == QoS::kAtMostOnce) {
      fail(CodecError::kProtocolError, "PUBLISH with QoS 0 and DUP set (MQTT-3.3.1-2)");
    }
    if (p.qos != QoS::kAtMostOnce) check_packet_id(PacketType::kPublish, p.packet_id);
    check_properties(p.properties, PropertyContext::kPublish);
    check_topic_name(p.topic, "PUBLISH topic name", v5_ && p.properties.topic_alias.has_value());
  }
  template <PacketType kType>
  void operator()(const PublishResponse<kType>& p) {
    check_packet_id(kType, p.packet_id);
    check_reason_code(kType, p.reason_code);
    check_properties(p.properties, PropertyContext::kPublishResponse);
  }
  void operator()(const Subscribe& p) {
    check_packet_id(PacketType::kSubscribe, p.packet_id);
    check_properties(p.properties, PropertyContext::kSubscribe);
    if (p.subscriptions.empty()) {
      fail(CodecError::kProtocolError, "SUBSCRIBE without topic filters (MQTT-3.8.3-3)");
    }
    for (const Subscription& s : p.subscriptions) {
      check_filter(s.filter, "SUBSCRIBE topic filter");
      check_qos(s.qos, "SUBSCRIBE");
      if (!v5_) continue;
      if (static_cast<std::uint8_t>(s.retain_handling) > 2) {
        fail(CodecError::kProtocolError, "SUBSCRIBE with Retain Handling 3");
      }
      if (s.no_local && is_shared_subscription(s.filter)) {
        fail(CodecError::kProtocolError,
             "SUBSCRIBE with No Local on a shared subscription (MQTT-3.8.3-4)");
      }
    }
  }
  void operator()(const Suback& p) {
    check_packet_id(PacketType::kSuback, p.packet_id);
    check_properties(p.properties, PropertyContext::kSuback);
    if (p.reason_codes.empty()) fail(CodecError::kProtocolError, "SUBACK without reason codes");
    for (ReasonCode code : p.reason_codes) {
      if (v5_) {
        check_reason_code(PacketType::kSuback, code);
      } else if (!is_failure(code) && static_cast<std::uint8_t>(code) > 2) {
        fail(CodecError::kProtocolError,
             "SUBACK return code " + hex(static_cast<std::uint8_t>(code)) + " is reserved");
      }
    }
  }
  void operator()(const Unsubscribe& p) {
    check_packet_id(PacketType::kUnsubscribe, p.packet_id);
    check_properties(p.properties, PropertyContext::kUnsubscribe);
    if (p.filters.empty()) {
      fail(CodecError::kProtocolError, "UNSUBSCRIBE without topic filters (MQTT-3.10.3-2)");
    }
    for (const std::string& filter : p.filters) check_filter(filter, "UNSUBSCRIBE topic filter");
  }
  void operator()(const Unsuback& p) {
    check_packet_id(PacketType::kUnsuback, p.packet_id);
    if (!v5_) return;
    check_properties(p.properties, PropertyContext::kUnsuback);
    if (p.reason_codes.empty()) fail(CodecError::kProtocolError, "UNSUBACK without reason codes");
    for (ReasonCode code : p.reason_codes) check_reason_code(PacketType::kUnsuback, code);
  }
  void operator()(const Pingreq&) {}
  void operator()(const Pingresp&) {}
  void operator()(const Disconnect& p) {
    check_reason_code(PacketType::kDisconnect, p.reason_code);
    check_properties(p.properties, PropertyContext::kDisconnect);
  }
  void operator()(const Auth& p) {
    if (!v5_) fail(CodecError::kInvalidArgument, "AUTH exists only in MQTT 5");
    check_reason_code(PacketType::kAuth, p.reason_code);
    check_properties(p.properties, PropertyContext::kAuth);
  }

 private:
  bool v5_;
  CodecStatus status_;
};

}  // namespace

CodecStatus validate_packet(const Packet& packet, ProtocolVersion version) {
  Validator validator(version);
  std::visit(
      [&](const auto& p) {
        if constexpr (std::is_same_v<std::decay_t<decltype(p)>, Connect>) {
          validator(p, version);
        } else {
          validator(p);
        }
      },
      packet);
  return std::move(validator).status();
}

}  // namespace holdfast::mqtt::detail
