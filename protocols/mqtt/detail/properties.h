#pragma once
// Internal to the MQTT codec: MQTT 5 properties on the wire (section 2.2.2) and their rules.
//
// Concurrency: pure functions.

#include <cstdint>
#include <string_view>
#include <type_traits>

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/detail/wire.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt::detail {

// Where a property list appears; each place allows its own subset of properties.
enum class PropertyContext : std::uint8_t {
  kConnect,
  kWill,
  kConnack,
  kPublish,
  kPublishResponse,  // PUBACK, PUBREC, PUBREL, PUBCOMP
  kSubscribe,
  kSuback,
  kUnsubscribe,
  kUnsuback,
  kDisconnect,
  kAuth,
};

// "CONNECT", "will", ... for messages.
std::string_view context_name(PropertyContext context);

// The specification's name of property `id`, e.g. "Topic Alias"; "unknown property" otherwise.
std::string_view property_name(std::uint8_t id);

// Reads a Property Length and the properties it covers into `out` (which must be empty).
// Errors: kMalformedPacket for truncation, an unknown identifier or one not allowed in
// `context`; kProtocolError for a property given twice. Values are checked by
// validate_properties().
CodecStatus read_properties(Reader& reader, PropertyContext context, Properties& out);

// Checks that only properties allowed in `context` are present and that their values are legal
// (kMalformedPacket, kProtocolError, kInvalidUtf8, kInvalidArgument for fields > 65535 bytes).
CodecStatus validate_properties(const Properties& properties, PropertyContext context);

// Values handed to for_each_property's visitor, by wire type.
struct VarInt {
  std::uint32_t value;
};
struct Utf8 {
  std::string_view value;
};
struct Binary {
  std::string_view value;
};
struct Utf8Pair {
  std::string_view key;
  std::string_view value;
};

// Calls `f(id, value)` for every property present, in identifier order (user properties and
// subscription identifiers in their own order). `value` is std::uint8_t, std::uint16_t,
// std::uint32_t, VarInt, Utf8, Binary or Utf8Pair.
template <typename F>
void for_each_property(const Properties& p, F&& f) {
  const auto byte = [](bool b) { return static_cast<std::uint8_t>(b ? 1 : 0); };
  if (p.payload_format_indicator) f(0x01, *p.payload_format_indicator);
  if (p.message_expiry_interval) f(0x02, *p.message_expiry_interval);
  if (p.content_type) f(0x03, Utf8{*p.content_type});
  if (p.response_topic) f(0x08, Utf8{*p.response_topic});
  if (p.correlation_data) f(0x09, Binary{*p.correlation_data});
  for (std::uint32_t id : p.subscription_identifiers) f(0x0B, VarInt{id});
  if (p.session_expiry_interval) f(0x11, *p.session_expiry_interval);
  if (p.assigned_client_identifier) f(0x12, Utf8{*p.assigned_client_identifier});
  if (p.server_keep_alive) f(0x13, *p.server_keep_alive);
  if (p.authentication_method) f(0x15, Utf8{*p.authentication_method});
  if (p.authentication_data) f(0x16, Binary{*p.authentication_data});
  if (p.request_problem_information) f(0x17, byte(*p.request_problem_information));
  if (p.will_delay_interval) f(0x18, *p.will_delay_interval);
  if (p.request_response_information) f(0x19, byte(*p.request_response_information));
  if (p.response_information) f(0x1A, Utf8{*p.response_information});
  if (p.server_reference) f(0x1C, Utf8{*p.server_reference});
  if (p.reason_string) f(0x1F, Utf8{*p.reason_string});
  if (p.receive_maximum) f(0x21, *p.receive_maximum);
  if (p.topic_alias_maximum) f(0x22, *p.topic_alias_maximum);
  if (p.topic_alias) f(0x23, *p.topic_alias);
  if (p.maximum_qos) f(0x24, *p.maximum_qos);
  if (p.retain_available) f(0x25, byte(*p.retain_available));
  for (const auto& [key, value] : p.user_properties) f(0x26, Utf8Pair{key, value});
  if (p.maximum_packet_size) f(0x27, *p.maximum_packet_size);
  if (p.wildcard_subscription_available) f(0x28, byte(*p.wildcard_subscription_available));
  if (p.subscription_identifiers_available) f(0x29, byte(*p.subscription_identifiers_available));
  if (p.shared_subscription_available) f(0x2A, byte(*p.shared_subscription_available));
}

// Writes the properties without their length prefix.
template <typename Sink>
void put_property_list(Sink& sink, const Properties& properties) {
  for_each_property(properties, [&sink](std::uint8_t id, const auto& value) {
    using T = std::decay_t<decltype(value)>;
    sink.put(id);
    if constexpr (std::is_same_v<T, std::uint8_t>) {
      sink.put(value);
    } else if constexpr (std::is_same_v<T, std::uint16_t>) {
      put_u16(sink, value);
    } else if constexpr (std::is_same_v<T, std::uint32_t>) {
      put_u32(sink, value);
    } else if constexpr (std::is_same_v<T, VarInt>) {
      put_varint(sink, value.value);
    } else if constexpr (std::is_same_v<T, Utf8Pair>) {
      put_string(sink, value.key);
      put_string(sink, value.value);
    } else {
      put_string(sink, value.value);  // Utf8, Binary
    }
  });
}

// Size of the property list without its length prefix.
inline std::size_t property_list_size(const Properties& properties) {
  CountingSink counter;
  put_property_list(counter, properties);
  return counter.size;
}

// Writes the Property Length and the properties. The list must fit a Variable Byte Integer
// (the encoder checks the packet size first).
template <typename Sink>
void put_properties(Sink& sink, const Properties& properties) {
  put_varint(sink, static_cast<std::uint32_t>(property_list_size(properties)));
  put_property_list(sink, properties);
}

}  // namespace holdfast::mqtt::detail
