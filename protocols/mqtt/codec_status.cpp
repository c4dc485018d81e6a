#include "protocols/mqtt/codec_status.h"

namespace holdfast::mqtt {

std::string_view codec_error_name(CodecError error) {
  switch (error) {
    case CodecError::kNone:
      return "ok";
    case CodecError::kMalformedRemainingLength:
      return "malformed-remaining-length";
    case CodecError::kPacketTooLarge:
      return "packet-too-large";
    case CodecError::kInvalidPacketType:
      return "invalid-packet-type";
    case CodecError::kInvalidFlags:
      return "invalid-flags";
    case CodecError::kMalformedPacket:
      return "malformed-packet";
    case CodecError::kInvalidUtf8:
      return "invalid-utf8";
    case CodecError::kProtocolError:
      return "protocol-error";
    case CodecError::kUnsupportedProtocol:
      return "unsupported-protocol";
    case CodecError::kInvalidArgument:
      return "invalid-argument";
  }
  return "unknown";
}

ReasonCode reason_code_for(CodecError error) {
  switch (error) {
    case CodecError::kNone:
      return ReasonCode::kSuccess;
    case CodecError::kPacketTooLarge:
      return ReasonCode::kPacketTooLarge;
    case CodecError::kProtocolError:
      return ReasonCode::kProtocolError;
    case CodecError::kUnsupportedProtocol:
      return ReasonCode::kUnsupportedProtocolVersion;
    case CodecError::kInvalidArgument:
      return ReasonCode::kImplementationSpecificError;
    case CodecError::kMalformedRemainingLength:
    case CodecError::kInvalidPacketType:
    case CodecError::kInvalidFlags:
    case CodecError::kMalformedPacket:
    case CodecError::kInvalidUtf8:
      return ReasonCode::kMalformedPacket;
  }
  return ReasonCode::kMalformedPacket;
}

std::string CodecStatus::to_string() const {
  if (ok()) return "ok";
  std::string s(codec_error_name(error));
  s += ": ";
  s += message;
  return s;
}

}  // namespace holdfast::mqtt
