#include "tools/tea/tea.h"

namespace holdfast::tea {
namespace {

constexpr std::uint32_t kDelta = 0x9E3779B9;
constexpr int kCycles = 32;

std::uint32_t load(const std::uint8_t* p, ByteOrder order) {
  if (order == ByteOrder::kBig) {
    return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
           p[3];
  }
  return (std::uint32_t{p[3]} << 24) | (std::uint32_t{p[2]} << 16) | (std::uint32_t{p[1]} << 8) |
         p[0];
}

void store(std::uint32_t v, std::uint8_t* p, ByteOrder order) {
  for (int i = 0; i < 4; ++i) {
    int shift = order == ByteOrder::kBig ? 24 - 8 * i : 8 * i;
    p[i] = static_cast<std::uint8_t>(v >> shift);
  }
}

void key_words(const Key& key, ByteOrder order, std::uint32_t k[4]) {
  for (int i = 0; i < 4; ++i) k[i] = load(key.data() + 4 * i, order);
}

}  // namespace

void encrypt_block(Block& block, const Key& key, Variant variant, ByteOrder order) {
  std::uint32_t k[4];
  key_words(key, order, k);
  std::uint32_t v0 = load(block.data(), order), v1 = load(block.data() + 4, order), sum = 0;
  for (int i = 0; i < kCycles; ++i) {
    if (variant == Variant::kTea) {
      sum += kDelta;
      v0 += ((v1 << 4) + k[0]) ^ (v1 + sum) ^ ((v1 >> 5) + k[1]);
      v1 += ((v0 << 4) + k[2]) ^ (v0 + sum) ^ ((v0 >> 5) + k[3]);
    } else {
      v0 += (((v1 << 4) ^ (v1 >> 5)) + v1) ^ (sum + k[sum & 3]);
      sum += kDelta;
      v1 += (((v0 << 4) ^ (v0 >> 5)) + v0) ^ (sum + k[(sum >> 11) & 3]);
    }
  }
  store(v0, block.data(), order);
  store(v1, block.data() + 4, order);
}

void decrypt_block(Block& block, const Key& key, Variant variant, ByteOrder order) {
  std::uint32_t k[4];
  key_words(key, order, k);
  std::uint32_t v0 = load(block.data(), order), v1 = load(block.data() + 4, order);
  std::uint32_t sum = kDelta * kCycles;
  for (int i = 0; i < kCycles; ++i) {
    if (variant == Variant::kTea) {
      v1 -= ((v0 << 4) + k[2]) ^ (v0 + sum) ^ ((v0 >> 5) + k[3]);
      v0 -= ((v1 << 4) + k[0]) ^ (v1 + sum) ^ ((v1 >> 5) + k[1]);
      sum -= kDelta;
    } else {
      v1 -= (((v0 << 4) ^ (v0 >> 5)) + v0) ^ (sum + k[(sum >> 11) & 3]);
      sum -= kDelta;
      v0 -= (((v1 << 4) ^ (v1 >> 5)) + v1) ^ (sum + k[sum & 3]);
    }
  }
  store(v0, block.data(), order);
  store(v1, block.data() + 4, order);
}

std::string encrypt(std::string_view plain, const Params& p) {
  std::string out(plain);
  out.resize((plain.size() + 7) / 8 * 8, '\0');
  Block chain = p.iv;
  for (std::size_t at = 0; at < out.size(); at += 8) {
    Block b;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(out[at + i]);
    if (p.mode == Mode::kCbc) {
      for (int i = 0; i < 8; ++i) b[i] ^= chain[i];
    }
    encrypt_block(b, p.key, p.variant, p.order);
    chain = b;
    for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>(b[i]);
  }
  return out;
}

std::string decrypt(std::string_view cipher, const Params& p) {
  if (cipher.size() % 8 != 0) return {};
  std::string out(cipher);
  Block chain = p.iv;
  for (std::size_t at = 0; at < out.size(); at += 8) {
    Block b;
    for (int i = 0; i < 8; ++i) b[i] = static_cast<std::uint8_t>(out[at + i]);
    Block encrypted = b;
    decrypt_block(b, p.key, p.variant, p.order);
    if (p.mode == Mode::kCbc) {
      for (int i = 0; i < 8; ++i) b[i] ^= chain[i];
    }
    chain = encrypted;
    for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>(b[i]);
  }
  return out;
}

bool parse_key(std::string_view hex, Key& key) {
  if (hex.size() != 32) return false;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < 16; ++i) {
    int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace holdfast::tea
