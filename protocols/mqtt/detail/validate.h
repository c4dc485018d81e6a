#pragma once
// Internal to the MQTT codec: the rules a packet must follow that can be decided from the packet
// alone. The decoder applies them to what it parsed and the encoder to what it is asked to send,
// so that whatever one produces the other accepts.
//
// Concurrency: pure function.

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt::detail {

// Checks `packet` for protocol level `version`: UTF-8 strings, topic names, packet ids, QoS
// values, non-empty lists, reason codes valid for the packet type (MQTT 5), properties allowed
// and legal (MQTT 5 only; ignored below), field lengths <= 65535. A CONNECT must carry
// `version` itself. Returns the first violation found.
CodecStatus validate_packet(const Packet& packet, ProtocolVersion version);

}  // namespace holdfast::mqtt::detail
