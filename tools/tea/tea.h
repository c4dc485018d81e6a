#pragma once
// TEA and XTEA (Wheeler and Needham, 1994 and 1997): the block ciphers small devices use to
// encrypt their own payloads. 64-bit blocks, 128-bit keys, 32 cycles.
//
// Holdfast never decrypts payloads on their way: this library is for the tools only (the device
// simulator encrypts, holdfastctl decrypts for display). The broker does not link it.
//
// Words are read from bytes in `order` (big-endian as in the reference test vectors and
// Bouncy Castle; some device firmware uses little-endian). Messages are padded with zero bytes
// to a whole number of blocks (the device's payload then says its own length); CBC takes an
// 8-byte IV.
//
// Concurrency: pure functions; any thread.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace holdfast::tea {

enum class Variant : std::uint8_t { kTea, kXtea };
enum class Mode : std::uint8_t { kEcb, kCbc };
enum class ByteOrder : std::uint8_t { kBig, kLittle };

using Key = std::array<std::uint8_t, 16>;
using Block = std::array<std::uint8_t, 8>;

struct Params {
  Key key{};
  Variant variant = Variant::kXtea;
  Mode mode = Mode::kEcb;
  ByteOrder order = ByteOrder::kBig;
  Block iv{};  // CBC only
};

// One block, in place.
void encrypt_block(Block& block, const Key& key, Variant variant,
                   ByteOrder order = ByteOrder::kBig);
void decrypt_block(Block& block, const Key& key, Variant variant,
                   ByteOrder order = ByteOrder::kBig);

// Whole messages: `plain` is zero-padded to a multiple of 8 bytes.
std::string encrypt(std::string_view plain, const Params& params);
// `cipher` must be a multiple of 8 bytes long; returns the padded plaintext, or an empty string
// when the length is not a multiple of 8.
std::string decrypt(std::string_view cipher, const Params& params);

// Parses 32 hex digits into a key; false on anything else.
bool parse_key(std::string_view hex, Key& key);

}  // namespace holdfast::tea
