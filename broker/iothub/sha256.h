#pragma once
// SHA-256 as lower-case hex: how the hub emulator's record and the device simulator name a
// payload, so a test can compare what left a device with what reached the hub.
// Pure; any thread.
#include <string>
#include <string_view>

namespace holdfast::iothub {

std::string sha256_hex(std::string_view data);

}  // namespace holdfast::iothub
