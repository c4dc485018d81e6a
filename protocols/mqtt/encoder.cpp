#include "protocols/mqtt/encoder.h"

#include <string>

#include "protocols/mqtt/detail/properties.h"
#include "protocols/mqtt/detail/validate.h"
#include "protocols/mqtt/detail/wire.h"

namespace holdfast::mqtt {

namespace {

using detail::put_properties;
using detail::put_string;
using detail::put_u16;

std::uint8_t code_byte(ReasonCode code) {
  return static_cast<std::uint8_t>(code);
}

// Writes the variable header and payload of each packet type. Runs twice per packet: once into
// a CountingSink to learn the Remaining Length, then into the output.
template <typename Sink>
class BodyWriter {
 public:
  BodyWriter(Sink& sink, ProtocolVersion version)
      : s_(sink), version_(version), v5_(version == ProtocolVersion::kV5) {}

  void operator()(const Connect& p) {
    put_string(s_, version_ == ProtocolVersion::kV31 ? "MQIsdp" : "MQTT");
    s_.put(static_cast<std::uint8_t>(version_));
    std::uint8_t flags = 0;
    if (p.username) flags |= 0x80;
    if (p.password) flags |= 0x40;
    if (p.will) {
      flags |= 0x04 | static_cast<std::uint8_t>(static_cast<std::uint8_t>(p.will->qos) << 3);
      if (p.will->retain) flags |= 0x20;
    }
    if (p.clean_start) flags |= 0x02;
    s_.put(flags);
    put_u16(s_, p.keep_alive);
    if (v5_) put_properties(s_, p.properties);
    put_string(s_, p.client_id);
    if (p.will) {
      if (v5_) put_properties(s_, p.will->properties);
      put_string(s_, p.will->topic);
      put_string(s_, p.will->payload);
    }
    if (p.username) put_string(s_, *p.username);
    if (p.password) put_string(s_, *p.password);
  }

  void operator()(const Connack& p) {
    s_.put(static_cast<std::uint8_t>(p.session_present && version_ != ProtocolVersion::kV31));
    if (v5_) {
      s_.put(code_byte(p.reason_code));
      put_properties(s_, p.properties);
    } else {
      s_.put(static_cast<std::uint8_t>(to_connack_return_code(p.reason_code)));
    }
  }

  void operator()(const Publish& p) {
    put_string(s_, p.topic);
    if (p.qos != QoS::kAtMostOnce) put_u16(s_, p.packet_id);
    if (v5_) put_properties(s_, p.properties);
    s_.put(p.payload);
  }

  template <PacketType kType>
  void operator()(const PublishResponse<kType>& p) {
    put_u16(s_, p.packet_id);
    reason_and_properties(p.reason_code, p.properties);
  }

  void operator()(const Subscribe& p) {
    put_u16(s_, p.packet_id);
    if (v5_) put_properties(s_, p.properties);
    for (const Subscription& sub : p.subscriptions) {
      put_string(s_, sub.filter);
      auto options = static_cast<std::uint8_t>(sub.qos);
      if (v5_) {
        if (sub.no_local) options |= 0x04;
        if (sub.retain_as_published) options |= 0x08;
        options |= static_cast<std::uint8_t>(static_cast<std::uint8_t>(sub.retain_handling) << 4);
      }
      s_.put(options);
    }
  }

  void operator()(const Suback& p) {
    put_u16(s_, p.packet_id);
    if (v5_) put_properties(s_, p.properties);
    for (ReasonCode code : p.reason_codes) {
      s_.put(v5_ || !is_failure(code) ? code_byte(code) : std::uint8_t{0x80});
    }
  }

  void operator()(const Unsubscribe& p) {
    put_u16(s_, p.packet_id);
    if (v5_) put_properties(s_, p.properties);
    for (const std::string& filter : p.filters) put_string(s_, filter);
  }

  void operator()(const Unsuback& p) {
    put_u16(s_, p.packet_id);
    if (!v5_) return;
    put_properties(s_, p.properties);
    for (ReasonCode code : p.reason_codes) s_.put(code_byte(code));
  }

  void operator()(const Pingreq&) {}
  void operator()(const Pingresp&) {}
  void operator()(const Disconnect& p) { reason_and_properties(p.reason_code, p.properties); }
  void operator()(const Auth& p) { reason_and_properties(p.reason_code, p.properties); }

 private:
  // The shortest form MQTT 5 allows: nothing for Success without properties, the reason code
  // alone without properties.
  void reason_and_properties(ReasonCode code, const Properties& properties) {
    if (!v5_) return;
    const bool no_properties = properties.empty();
    if (code == ReasonCode::kSuccess && no_properties) return;
    s_.put(code_byte(code));
    if (!no_properties) put_properties(s_, properties);
  }

  Sink& s_;
  ProtocolVersion version_;
  bool v5_;
};

std::uint8_t first_byte(const Packet& packet) {
  const PacketType type = packet_type(packet);
  auto byte = static_cast<std::uint8_t>(static_cast<std::uint8_t>(type) << 4);
  if (const auto* p = std::get_if<Publish>(&packet)) {
    if (p->dup) byte |= 0x08;
    byte |= static_cast<std::uint8_t>(static_cast<std::uint8_t>(p->qos) << 1);
    if (p->retain) byte |= 0x01;
  } else if (type == PacketType::kPubrel || type == PacketType::kSubscribe ||
             type == PacketType::kUnsubscribe) {
    byte |= 0x02;
  }
  return byte;
}

}  // namespace

CodecStatus encode(const Packet& packet, ProtocolVersion version, std::string& out,
                   std::size_t max_packet_size) {
  if (auto s = detail::validate_packet(packet, version); !s.ok()) return s;

  detail::CountingSink counter;
  std::visit(BodyWriter<detail::CountingSink>(counter, version), packet);
  const std::size_t remaining = counter.size;
  // Every field was checked to be <= 65535 bytes, so `remaining` cannot overflow, but it may
  // not fit a Variable Byte Integer.
  if (remaining > kMaxRemainingLength) {
    return codec_error(CodecError::kPacketTooLarge,
                       std::string(packet_type_name(packet_type(packet))) + " remaining length " +
                           std::to_string(remaining) + " exceeds 268435455");
  }
  const auto remaining32 = static_cast<std::uint32_t>(remaining);
  const std::size_t total = 1 + detail::varint_size(remaining32) + remaining;
  if (total > max_packet_size) {
    return codec_error(CodecError::kPacketTooLarge,
                       std::string(packet_type_name(packet_type(packet))) + " of " +
                           std::to_string(total) + " bytes exceeds the maximum packet size " +
                           std::to_string(max_packet_size));
  }

  out.reserve(out.size() + total);
  detail::StringSink sink{out};
  sink.put(first_byte(packet));
  detail::put_varint(sink, remaining32);
  std::visit(BodyWriter<detail::StringSink>(sink, version), packet);
  return {};
}

}  // namespace holdfast::mqtt
