#pragma once
// ISO 8601 / RFC 3339 UTC timestamps as IoT Hub carries them ($.ctime,
// iothub-creation-time-utc), e.g. "2024-05-01T12:34:56.789Z". Pure functions; any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace holdfast::iothub {

// Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00|-00:00)" ('t' and 'z' accepted too) into Unix
// epoch milliseconds; a fraction finer than milliseconds is truncated. Returns nullopt for
// anything else: other offsets (the value must be UTC), missing seconds, out-of-range fields
// (month 13, 30 February, second 60), years outside 0000-9999.
std::optional<std::int64_t> parse_iso8601_utc_ms(std::string_view text);

// Formats Unix epoch milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ". Years outside 0000-9999 are
// clamped to that range (IoT Hub cannot carry them anyway).
std::string format_iso8601_utc_ms(std::int64_t epoch_ms);

// Formats Unix epoch seconds as "YYYY-MM-DDTHH:MM:SSZ", for messages to operators.
std::string format_iso8601_utc_s(std::int64_t epoch_s);

}  // namespace holdfast::iothub
