#pragma once
// CodecStatus: how the MQTT codec reports errors (an error enum plus a message for humans).
//
// The codec does not use broker/core/status.h: it must also build with clang 14, which cannot
// compile libstdc++'s <expected>. An adapter turns a CodecStatus into a core::Status or, with
// reason_code_for(), into the MQTT 5 reason code of the DISCONNECT (or CONNACK) to send.
//
// Concurrency: plain values and pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "protocols/mqtt/reason_code.h"

namespace holdfast::mqtt {

enum class CodecError : std::uint8_t {
  kNone = 0,
  kMalformedRemainingLength,  // a Variable Byte Integer longer than 4 bytes
  kPacketTooLarge,            // over the configured maximum (or 268,435,455 bytes remaining)
  kInvalidPacketType,         // packet type 0, AUTH below MQTT 5, or not CONNECT first
  kInvalidFlags,              // reserved bits set: fixed header, CONNECT flags, SUBSCRIBE options
  kMalformedPacket,           // truncated or trailing bytes, bad property, QoS 3, bad length
  kInvalidUtf8,               // a UTF-8 Encoded String is ill-formed or holds U+0000 (MQTT-1.5.3)
  kProtocolError,             // well-formed but against a rule: packet id 0, no topic filters, ...
  kUnsupportedProtocol,       // CONNECT with an unknown protocol name or level
  kInvalidArgument,           // encoder only: the packet cannot be encoded (string > 65535 bytes)
};

// Stable lower-case name, e.g. "packet-too-large". Pure.
std::string_view codec_error_name(CodecError error);

// The MQTT 5 reason code a server sends (in DISCONNECT, or CONNACK while connecting) when
// decoding failed with `error`: PacketTooLarge, ProtocolError, UnsupportedProtocolVersion,
// ImplementationSpecificError for kInvalidArgument, Success for kNone, else MalformedPacket. Pure.
ReasonCode reason_code_for(CodecError error);

// An error and what exactly went wrong, or OK. [[nodiscard]]: drop one with `.ignore()`.
struct [[nodiscard]] CodecStatus {
  CodecError error = CodecError::kNone;
  std::string message;  // e.g. "PUBLISH topic name contains a wildcard ('+')"; empty when OK

  bool ok() const { return error == CodecError::kNone; }
  // "packet-too-large: ..." or "ok".
  std::string to_string() const;
  // Explicitly discard; grep for `.ignore()` to audit.
  void ignore() const {}

  friend bool operator==(const CodecStatus&, const CodecStatus&) = default;
};

// Shorthand: `return codec_error(CodecError::kMalformedPacket, "...")`.
inline CodecStatus codec_error(CodecError error, std::string message) {
  return CodecStatus{error, std::move(message)};
}

}  // namespace holdfast::mqtt
