#pragma once
// Internal to the MQTT codec: turning one framed packet into a Packet.
//
// Concurrency: pure functions.

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt::detail {

// Checks the first byte of a fixed header: packet type and flags, for protocol level `version`
// (unset before CONNECT: then only CONNECT is accepted). Called before the rest of the packet
// arrives so that nonsense is refused early. Errors: kInvalidPacketType, kInvalidFlags,
// kMalformedPacket (PUBLISH QoS 3), kProtocolError (PUBLISH QoS 0 with DUP).
CodecStatus check_first_byte(std::uint8_t first_byte, std::optional<ProtocolVersion> version);

// Parses the variable header and payload (`body`, exactly Remaining Length bytes) of a packet
// whose first byte passed check_first_byte(), then validates it. A CONNECT is parsed by its own
// protocol level; any other packet by `version`, which must then be set.
CodecStatus parse_packet(std::uint8_t first_byte, std::string_view body,
                         std::optional<ProtocolVersion> version, Packet& out);

}  // namespace holdfast::mqtt::detail
