#pragma once
// The MQTT encoder: Packet in, bytes out (sans-IO).
//
// Operation
//   encode() checks the packet against the same rules the decoder applies (so whatever it
//   writes the Decoder accepts and decodes to an equal packet), computes the Remaining Length
//   and appends the packet to a caller-owned buffer. MQTT 5 fields are written only for
//   ProtocolVersion::kV5; below it, properties, subscription options other than QoS and
//   reason codes other than CONNACK's and SUBACK's are ignored (see reason_code.h for how
//   those two are mapped). Optional MQTT 5 parts are left out when they carry nothing: a
//   PUBACK with reason Success and no properties is 2 bytes, a normal DISCONNECT 0.
//
// Concurrency
//   A pure function of its arguments: call it from any thread; it never blocks.

#include <cstddef>
#include <string>

#include "protocols/mqtt/codec_status.h"
#include "protocols/mqtt/packet.h"

namespace holdfast::mqtt {

// Appends `packet`, encoded for protocol level `version`, to `out`.
//
// `max_packet_size` limits the whole packet (fixed header included), e.g. to the Maximum Packet
// Size a client announced in CONNECT; a server that hits it may drop the Reason String and
// User Properties and try again (MQTT-3.1.2-25). A CONNECT is written for its own
// `Connect::version`, which must equal `version`.
//
// Errors (with `out` left exactly as it was):
//   kPacketTooLarge    the packet is larger than `max_packet_size` or kMaxPacketSize;
//   kInvalidArgument   a string or binary field over 65535 bytes, AUTH below MQTT 5, a CONNECT
//                      whose version differs from `version`;
//   kInvalidUtf8, kProtocolError, kMalformedPacket
//                      the packet breaks a rule the decoder would reject it for (packet id 0,
//                      wildcard in a topic name, no topic filters, a property not allowed in
//                      this packet, a reason code not allowed in this packet, ...).
CodecStatus encode(const Packet& packet, ProtocolVersion version, std::string& out,
                   std::size_t max_packet_size = kMaxPacketSize);

}  // namespace holdfast::mqtt
