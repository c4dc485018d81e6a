#pragma once
// MQTT control packets as plain values: one struct per packet type, `Packet` is their variant.
//
// Operation
//   The same structs serve MQTT 3.1 (level 3), 3.1.1 (level 4) and 5.0 (level 5). Fields that
//   exist only in MQTT 5 (properties, most reason codes, subscription options other than QoS)
//   are left at their defaults by the decoder below level 5 and ignored by the encoder there.
//   Strings and payloads are byte containers (`std::string`); fields the specification calls
//   UTF-8 Encoded Strings are checked for well-formed UTF-8 (MQTT-1.5.3) by the decoder and the
//   encoder, binary fields (payload, password, correlation data, ...) are never looked at.
//
// Concurrency
//   Plain values: a packet belongs to whoever holds it. The free functions are pure.
//
// Limitations
//   Rules that need state (topic alias mapping, packet id reuse, receive maximum, "CONNECT only
//   once", which side may send which packet) are the session's business, not the codec's.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocols/mqtt/reason_code.h"

namespace holdfast::mqtt {

// Largest Remaining Length a fixed header can carry (a 4-byte Variable Byte Integer).
inline constexpr std::size_t kMaxRemainingLength = 268'435'455;
// Largest packet: a 5-byte fixed header plus kMaxRemainingLength. Use as "no size limit".
inline constexpr std::size_t kMaxPacketSize = 1 + 4 + kMaxRemainingLength;

// The protocol level byte of CONNECT.
enum class ProtocolVersion : std::uint8_t {
  kV31 = 3,   // MQTT 3.1, protocol name "MQIsdp"
  kV311 = 4,  // MQTT 3.1.1, protocol name "MQTT"
  kV5 = 5,    // MQTT 5.0, protocol name "MQTT"
};

// "3.1", "3.1.1" or "5.0"; "unknown" for other values. Pure.
std::string_view protocol_version_name(ProtocolVersion version);

enum class QoS : std::uint8_t {
  kAtMostOnce = 0,
  kAtLeastOnce = 1,
  kExactlyOnce = 2,
};

// The packet type, the high nibble of the first byte.
enum class PacketType : std::uint8_t {
  kConnect = 1,
  kConnack = 2,
  kPublish = 3,
  kPuback = 4,
  kPubrec = 5,
  kPubrel = 6,
  kPubcomp = 7,
  kSubscribe = 8,
  kSuback = 9,
  kUnsubscribe = 10,
  kUnsuback = 11,
  kPingreq = 12,
  kPingresp = 13,
  kDisconnect = 14,
  kAuth = 15,  // MQTT 5 only
};

// "CONNECT", "PUBLISH", ...; "RESERVED" for other values. Pure.
std::string_view packet_type_name(PacketType type);

// Ordered (key, value) pairs; a key may repeat (MQTT 5 section 3.1.2.11.8).
using UserProperties = std::vector<std::pair<std::string, std::string>>;

// MQTT 5 properties (section 2.2.2.2). Each packet type allows a subset (the decoder treats any
// other as a Malformed Packet, the encoder refuses it). A property is present when its optional
// is set (or its vector non-empty). Comments give the identifier and the packets allowing it.
struct Properties {
  std::optional<std::uint8_t> payload_format_indicator;   // 0x01 PUBLISH, will: 0 bytes, 1 UTF-8
  std::optional<std::uint32_t> message_expiry_interval;   // 0x02 PUBLISH, will; seconds
  std::optional<std::string> content_type;                // 0x03 PUBLISH, will
  std::optional<std::string> response_topic;              // 0x08 PUBLISH, will; no wildcards
  std::optional<std::string> correlation_data;            // 0x09 PUBLISH, will; binary
  std::vector<std::uint32_t> subscription_identifiers;    // 0x0B PUBLISH (many), SUBSCRIBE (one)
  std::optional<std::uint32_t> session_expiry_interval;   // 0x11 CONNECT, CONNACK, DISCONNECT
  std::optional<std::string> assigned_client_identifier;  // 0x12 CONNACK
  std::optional<std::uint16_t> server_keep_alive;         // 0x13 CONNACK; seconds
  std::optional<std::string> authentication_method;       // 0x15 CONNECT, CONNACK, AUTH
  std::optional<std::string> authentication_data;         // 0x16 CONNECT, CONNACK, AUTH; binary
  std::optional<bool> request_problem_information;        // 0x17 CONNECT
  std::optional<std::uint32_t> will_delay_interval;       // 0x18 will; seconds
  std::optional<bool> request_response_information;       // 0x19 CONNECT
  std::optional<std::string> response_information;        // 0x1A CONNACK
  std::optional<std::string> server_reference;            // 0x1C CONNACK, DISCONNECT
  std::optional<std::string> reason_string;  // 0x1F CONNACK, PUB*, SUBACK, UNSUBACK, DISC., AUTH
  std::optional<std::uint16_t> receive_maximum;            // 0x21 CONNECT, CONNACK; not 0
  std::optional<std::uint16_t> topic_alias_maximum;        // 0x22 CONNECT, CONNACK
  std::optional<std::uint16_t> topic_alias;                // 0x23 PUBLISH; not 0
  std::optional<std::uint8_t> maximum_qos;                 // 0x24 CONNACK; 0 or 1
  std::optional<bool> retain_available;                    // 0x25 CONNACK
  UserProperties user_properties;                          // 0x26 every packet with properties
  std::optional<std::uint32_t> maximum_packet_size;        // 0x27 CONNECT, CONNACK; not 0
  std::optional<bool> wildcard_subscription_available;     // 0x28 CONNACK
  std::optional<bool> subscription_identifiers_available;  // 0x29 CONNACK
  std::optional<bool> shared_subscription_available;       // 0x2A CONNACK

  // True when no property is present.
  bool empty() const { return *this == Properties{}; }

  friend bool operator==(const Properties&, const Properties&) = default;
};

// The will message of a CONNECT.
struct Will {
  std::string topic;    // a topic name: non-empty, no wildcards
  std::string payload;  // binary
  QoS qos = QoS::kAtMostOnce;
  bool retain = false;
  Properties properties;  // MQTT 5 will properties

  friend bool operator==(const Will&, const Will&) = default;
};

struct Connect {
  // Decides the protocol name and level written; the decoder sets it from the packet.
  ProtocolVersion version = ProtocolVersion::kV311;
  std::string client_id;                // may be empty (the server then assigns one or refuses)
  bool clean_start = true;              // "Clean Session" in 3.1/3.1.1
  std::uint16_t keep_alive = 0;         // seconds; 0 disables keep-alive
  std::optional<std::string> username;  // the User Name Flag is set when present
  std::optional<std::string> password;  // binary; below MQTT 5 only together with a username
  std::optional<Will> will;             // the Will Flag is set when present
  Properties properties;

  friend bool operator==(const Connect&, const Connect&) = default;
};

struct Connack {
  bool session_present = false;                   // must be false on refusal; not sent for 3.1
  ReasonCode reason_code = ReasonCode::kSuccess;  // mapped to a return code below MQTT 5
  Properties properties;

  friend bool operator==(const Connack&, const Connack&) = default;
};

struct Publish {
  bool dup = false;  // must be false for QoS 0
  QoS qos = QoS::kAtMostOnce;
  bool retain = false;
  std::string topic;            // a topic name; empty only with a topic alias (MQTT 5)
  std::uint16_t packet_id = 0;  // non-zero for QoS 1 and 2; ignored (not sent) for QoS 0
  std::string payload;          // binary
  Properties properties;

  friend bool operator==(const Publish&, const Publish&) = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout; each is its own type.
template <PacketType kType>
struct PublishResponse {
  static constexpr PacketType kPacketType = kType;
  std::uint16_t packet_id = 0;                    // non-zero
  ReasonCode reason_code = ReasonCode::kSuccess;  // MQTT 5 only
  Properties properties;                          // MQTT 5 only

  friend bool operator==(const PublishResponse&, const PublishResponse&) = default;
};
using Puback = PublishResponse<PacketType::kPuback>;
using Pubrec = PublishResponse<PacketType::kPubrec>;
using Pubrel = PublishResponse<PacketType::kPubrel>;
using Pubcomp = PublishResponse<PacketType::kPubcomp>;

// What a SUBSCRIBE asks to do with retained messages (MQTT 5).
enum class RetainHandling : std::uint8_t {
  kSendAtSubscribe = 0,
  kSendAtSubscribeIfNew = 1,
  kDoNotSend = 2,
};

// One topic filter of a SUBSCRIBE with its subscription options.
struct Subscription {
  std::string filter;  // non-empty; wildcard syntax is not checked: see is_valid_topic_filter
  QoS qos = QoS::kAtMostOnce;        // maximum QoS
  bool no_local = false;             // MQTT 5 only; must be false for shared subscriptions
  bool retain_as_published = false;  // MQTT 5 only
  RetainHandling retain_handling = RetainHandling::kSendAtSubscribe;  // MQTT 5 only

  friend bool operator==(const Subscription&, const Subscription&) = default;
};

struct Subscribe {
  std::uint16_t packet_id = 0;              // non-zero
  std::vector<Subscription> subscriptions;  // at least one
  Properties properties;

  friend bool operator==(const Subscribe&, const Subscribe&) = default;
};

struct Suback {
  std::uint16_t packet_id = 0;  // non-zero
  // One per subscription, at least one. Below MQTT 5 GrantedQos0/1/2 are sent as they are and
  // every failure code as 0x80.
  std::vector<ReasonCode> reason_codes;
  Properties properties;

  friend bool operator==(const Suback&, const Suback&) = default;
};

struct Unsubscribe {
  std::uint16_t packet_id = 0;       // non-zero
  std::vector<std::string> filters;  // at least one, each non-empty
  Properties properties;

  friend bool operator==(const Unsubscribe&, const Unsubscribe&) = default;
};

struct Unsuback {
  std::uint16_t packet_id = 0;           // non-zero
  std::vector<ReasonCode> reason_codes;  // MQTT 5 only: one per filter, at least one
  Properties properties;

  friend bool operator==(const Unsuback&, const Unsuback&) = default;
};

struct Pingreq {
  friend bool operator==(const Pingreq&, const Pingreq&) = default;
};

struct Pingresp {
  friend bool operator==(const Pingresp&, const Pingresp&) = default;
};

struct Disconnect {
  ReasonCode reason_code = ReasonCode::kNormalDisconnection;  // MQTT 5 only
  Properties properties;                                      // MQTT 5 only

  friend bool operator==(const Disconnect&, const Disconnect&) = default;
};

// MQTT 5 only.
struct Auth {
  ReasonCode reason_code = ReasonCode::kSuccess;
  Properties properties;

  friend bool operator==(const Auth&, const Auth&) = default;
};

using Packet = std::variant<Connect, Connack, Publish, Puback, Pubrec, Pubrel, Pubcomp, Subscribe,
                            Suback, Unsubscribe, Unsuback, Pingreq, Pingresp, Disconnect, Auth>;

// The type of a packet. Pure.
PacketType packet_type(const Packet& packet);

}  // namespace holdfast::mqtt
