#pragma once
// MQTT reason and return codes.
//
// ReasonCode is the MQTT 5 vocabulary (OASIS MQTT 5.0, section 2.4) and is what every packet
// struct carries, whatever the protocol level. For MQTT 3.1/3.1.1 the codec maps it:
//   CONNACK  3.1.1 return codes 0..5 <-> Success, UnsupportedProtocolVersion,
//            ClientIdentifierNotValid, ServerUnavailable, BadUserNameOrPassword, NotAuthorized
//            (see to_connack_return_code / to_reason_code below);
//   SUBACK   3.1.1 return codes 0x00, 0x01, 0x02 and 0x80 are numerically the MQTT 5 codes
//            GrantedQos0/1/2 and UnspecifiedError; any MQTT 5 failure code is sent as 0x80.
// Other packets carry reason codes on MQTT 5 only; for lower levels they are ignored.
//
// Concurrency: pure functions and plain enums; any thread.

#include <cstdint>
#include <string_view>

namespace holdfast::mqtt {

// MQTT 5 reason codes. Several names share a value (0x00 is Success, NormalDisconnection and
// GrantedQos0, depending on the packet).
enum class ReasonCode : std::uint8_t {
  kSuccess = 0x00,
  kNormalDisconnection = 0x00,
  kGrantedQos0 = 0x00,
  kGrantedQos1 = 0x01,
  kGrantedQos2 = 0x02,
  kDisconnectWithWillMessage = 0x04,
  kNoMatchingSubscribers = 0x10,
  kNoSubscriptionExisted = 0x11,
  kContinueAuthentication = 0x18,
  kReAuthenticate = 0x19,
  kUnspecifiedError = 0x80,
  kMalformedPacket = 0x81,
  kProtocolError = 0x82,
  kImplementationSpecificError = 0x83,
  kUnsupportedProtocolVersion = 0x84,
  kClientIdentifierNotValid = 0x85,
  kBadUserNameOrPassword = 0x86,
  kNotAuthorized = 0x87,
  kServerUnavailable = 0x88,
  kServerBusy = 0x89,
  kBanned = 0x8A,
  kServerShuttingDown = 0x8B,
  kBadAuthenticationMethod = 0x8C,
  kKeepAliveTimeout = 0x8D,
  kSessionTakenOver = 0x8E,
  kTopicFilterInvalid = 0x8F,
  kTopicNameInvalid = 0x90,
  kPacketIdentifierInUse = 0x91,
  kPacketIdentifierNotFound = 0x92,
  kReceiveMaximumExceeded = 0x93,
  kTopicAliasInvalid = 0x94,
  kPacketTooLarge = 0x95,
  kMessageRateTooHigh = 0x96,
  kQuotaExceeded = 0x97,
  kAdministrativeAction = 0x98,
  kPayloadFormatInvalid = 0x99,
  kRetainNotSupported = 0x9A,
  kQosNotSupported = 0x9B,
  kUseAnotherServer = 0x9C,
  kServerMoved = 0x9D,
  kSharedSubscriptionsNotSupported = 0x9E,
  kConnectionRateExceeded = 0x9F,
  kMaximumConnectTime = 0xA0,
  kSubscriptionIdentifiersNotSupported = 0xA1,
  kWildcardSubscriptionsNotSupported = 0xA2,
};

// MQTT 3.1 / 3.1.1 CONNACK return codes (MQTT 3.1.1 section 3.2.2.3).
enum class ConnackReturnCode : std::uint8_t {
  kAccepted = 0,
  kUnacceptableProtocolVersion = 1,
  kIdentifierRejected = 2,
  kServerUnavailable = 3,
  kBadUserNameOrPassword = 4,
  kNotAuthorized = 5,
};

// The specification's name of a reason code, e.g. "Packet too large"; 0x00 is "Success".
// Unknown values give "Unknown reason code". Pure.
std::string_view reason_code_name(ReasonCode code);

// The specification's name of a 3.1.1 return code, e.g. "Connection Refused, not authorized";
// values above 5 give "Unknown return code". Pure.
std::string_view connack_return_code_name(ConnackReturnCode code);

// The 3.1.1 return code a CONNACK with `code` is sent as: the five refusals map one to one;
// Banned becomes NotAuthorized, BadAuthenticationMethod becomes BadUserNameOrPassword, and every
// other failure becomes ServerUnavailable. Pure.
ConnackReturnCode to_connack_return_code(ReasonCode code);

// The MQTT 5 reason code for a 3.1.1 return code (the inverse of the one-to-one part above).
// Values above 5 give UnspecifiedError. Pure.
ReasonCode to_reason_code(ConnackReturnCode code);

// True for codes >= 0x80, which mean failure in every packet. Pure.
constexpr bool is_failure(ReasonCode code) {
  return static_cast<std::uint8_t>(code) >= 0x80;
}

}  // namespace holdfast::mqtt
