#pragma once
// Little helpers to write and read the store's binary records. A Reader never reads past its
// end: every get_* returns false on truncated input, so corrupt records become kCorruption,
// never a crash.

#include <cstdint>
#include <string>
#include <string_view>

namespace holdfast::storage {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

inline void put_fixed64_le(std::string& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

inline void write_fixed64_le(char* at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) at[i] = static_cast<char>(v >> (8 * i));
}

inline std::uint64_t read_fixed64_le(const char* at) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t{static_cast<unsigned char>(at[i])} << (8 * i);
  return v;
}

// Big-endian so that byte order equals numeric order in RocksDB keys.
inline void put_fixed32_be(std::string& out, std::uint32_t v) {
  for (int i = 3; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
inline void put_fixed64_be(std::string& out, std::uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>(v >> (8 * i)));
}
inline std::uint64_t read_be(const char* at, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(at[i]);
  return v;
}

class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  bool get_u8(std::uint8_t& v) {
    if (data_.empty()) return false;
    v = static_cast<std::uint8_t>(data_.front());
    data_.remove_prefix(1);
    return true;
  }
  bool get_varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift <= 63; shift += 7) {
      std::uint8_t byte;
      if (!get_u8(byte)) return false;
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if ((byte & 0x80) == 0) return true;
    }
    return false;  // more than 10 bytes: not a varint we wrote
  }
  bool get_bytes(std::string_view& v) {
    std::uint64_t n;
    if (!get_varint(n) || n > data_.size()) return false;
    v = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  bool get_string(std::string& v) {
    std::string_view view;
    if (!get_bytes(view)) return false;
    v.assign(view);
    return true;
  }
  bool get_fixed64_le(std::uint64_t& v) {
    if (data_.size() < 8) return false;
    v = read_fixed64_le(data_.data());
    data_.remove_prefix(8);
    return true;
  }
  bool empty() const { return data_.empty(); }

 private:
  std::string_view data_;
};

}  // namespace holdfast::storage
