#include "broker/iothub/base64.h"

#include <openssl/evp.h>

#include <algorithm>

namespace holdfast::iothub {
namespace {

using core::Code;
using core::error;

// EVP_*Block take an int length; chunks keep any input size safe. Multiples of 3 bytes and of
// 4 characters so that no padding appears inside the output.
constexpr std::size_t kEncodeChunk = 3 * 4096;
constexpr std::size_t kDecodeChunk = 4 * 4096;

int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  unsigned char buffer[kEncodeChunk / 3 * 4 + 1];
  for (std::size_t pos = 0; pos < bytes.size(); pos += kEncodeChunk) {
    std::size_t n = std::min(kEncodeChunk, bytes.size() - pos);
    int written = EVP_EncodeBlock(
        buffer, reinterpret_cast<const unsigned char*>(bytes.data() + pos), static_cast<int>(n));
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(written));
  }
  return out;
}

core::Result<std::string> base64_decode(std::string_view text) {
  // EVP_DecodeBlock skips surrounding whitespace, does not report padding and accepts
  // non-canonical input, so validate everything first and use it only for the arithmetic.
  if (text.size() % 4 != 0) {
    return error(Code::kInvalidArgument,
                 "base64 length " + std::to_string(text.size()) +
                     " is not a multiple of 4 (is the '=' padding missing?)");
  }
  std::size_t padding = 0;
  if (!text.empty() && text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  std::string_view body = text.substr(0, text.size() - padding);
  for (std::size_t i = 0; i < body.size(); ++i) {
    if (sextet(body[i]) < 0) {
      return error(Code::kInvalidArgument,
                   body[i] == '='
                       ? "base64 has '=' before the end at offset " + std::to_string(i)
                       : "base64 has a byte outside the alphabet at offset " + std::to_string(i));
    }
  }
  if (padding > 0) {
    // The unused low bits of the last data character must be zero.
    int last = sextet(body.back());
    int unused_mask = padding == 1 ? 0x03 : 0x0f;
    if ((last & unused_mask) != 0) {
      return error(Code::kInvalidArgument, "base64 is not canonical: padding bits are not zero");
    }
  }

  std::string out;
  out.reserve(text.size() / 4 * 3);
  unsigned char buffer[kDecodeChunk / 4 * 3];
  for (std::size_t pos = 0; pos < text.size(); pos += kDecodeChunk) {
    std::size_t n = std::min(kDecodeChunk, text.size() - pos);
    int written = EVP_DecodeBlock(buffer, reinterpret_cast<const unsigned char*>(text.data() + pos),
                                  static_cast<int>(n));
    if (written < 0) return error(Code::kInvalidArgument, "base64 does not decode");
    out.append(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(written));
  }
  // EVP_DecodeBlock counts each '=' as a zero byte.
  out.resize(out.size() - padding);
  return out;
}

}  // namespace holdfast::iothub
