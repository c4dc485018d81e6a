#pragma once
// Standard base64 (RFC 4648 section 4, alphabet A-Z a-z 0-9 + /, '=' padding) for IoT Hub keys
// and SAS signatures. Pure functions; any thread; never block.

#include <string>
#include <string_view>

#include "broker/core/status.h"

namespace holdfast::iothub {

// Encodes bytes with '=' padding: "" -> "", "\x00" -> "AA==".
std::string base64_encode(std::string_view bytes);

// Decodes padded base64. Strict: fails with kInvalidArgument when the length is not a multiple
// of 4, on any byte outside the alphabet (whitespace and line breaks included), on '=' anywhere
// but the last one or two places, and on non-zero bits in the padding (a non-canonical
// encoding). "" decodes to "".
core::Result<std::string> base64_decode(std::string_view text);

}  // namespace holdfast::iothub
