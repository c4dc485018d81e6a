#pragma once
// Internal to the MQTT codec: reading and writing the wire data types of MQTT 5 section 1.5
// (Two/Four Byte Integers, Variable Byte Integers, length-prefixed strings and binary data).
//
// Concurrency: Reader and the sinks are single-owner values; the functions are pure.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace holdfast::mqtt::detail {

// Largest value of a Variable Byte Integer, hence of the Remaining Length.
inline constexpr std::uint32_t kMaxVarInt = 268'435'455;
// Largest length of a string or binary field (Two Byte Integer prefix).
inline constexpr std::size_t kMaxFieldLength = 65'535;

// Bytes needed to encode `value` (<= kMaxVarInt) as a Variable Byte Integer: 1..4.
constexpr std::size_t varint_size(std::uint32_t value) {
  return value < 128 ? 1 : value < 16'384 ? 2 : value < 2'097'152 ? 3 : 4;
}

// Reads the wire types from a byte range. Every read returns false, consuming nothing, when the
// range is too short (or, for varint, when the integer runs past 4 bytes).
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  std::size_t remaining() const { return data_.size(); }
  bool empty() const { return data_.empty(); }

  bool u8(std::uint8_t& v) {
    if (data_.empty()) return false;
    v = static_cast<std::uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (data_.size() < 2) return false;
    v = static_cast<std::uint16_t>((byte(0) << 8) | byte(1));
    data_.remove_prefix(2);
    return true;
  }
  bool u32(std::uint32_t& v) {
    if (data_.size() < 4) return false;
    v = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
        (std::uint32_t{byte(2)} << 8) | std::uint32_t{byte(3)};
    data_.remove_prefix(4);
    return true;
  }
  // A Variable Byte Integer of 1 to 4 bytes. Non-minimal encodings are accepted.
  bool varint(std::uint32_t& v) {
    std::uint32_t value = 0;
    for (std::size_t i = 0; i < 4 && i < data_.size(); ++i) {
      value |= std::uint32_t{byte(i) & 0x7Fu} << (7 * i);
      if ((byte(i) & 0x80) == 0) {
        v = value;
        data_.remove_prefix(i + 1);
        return true;
      }
    }
    return false;
  }
  // The next `n` bytes, as a view into the input.
  bool take(std::size_t n, std::string_view& out) {
    if (data_.size() < n) return false;
    out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }
  // A Two Byte Integer length followed by that many bytes (UTF-8 string or binary data).
  bool string(std::string& out) {
    if (data_.size() < 2) return false;
    const std::size_t n = (std::size_t{byte(0)} << 8) | byte(1);
    if (data_.size() - 2 < n) return false;
    out.assign(data_.substr(2, n));
    data_.remove_prefix(2 + n);
    return true;
  }
  // Everything left.
  std::string_view rest() {
    std::string_view r = data_;
    data_ = {};
    return r;
  }

 private:
  std::uint8_t byte(std::size_t i) const { return static_cast<std::uint8_t>(data_[i]); }
  std::string_view data_;
};

// A sink that only counts bytes: the encoder's size pass.
struct CountingSink {
  std::size_t size = 0;
  void put(std::uint8_t) { ++size; }
  void put(std::string_view bytes) { size += bytes.size(); }
};

// A sink that appends to a string: the encoder's write pass.
struct StringSink {
  std::string& out;
  void put(std::uint8_t b) { out.push_back(static_cast<char>(b)); }
  void put(std::string_view bytes) { out.append(bytes); }
};

template <typename Sink>
void put_u16(Sink& sink, std::uint16_t v) {
  sink.put(static_cast<std::uint8_t>(v >> 8));
  sink.put(static_cast<std::uint8_t>(v));
}

template <typename Sink>
void put_u32(Sink& sink, std::uint32_t v) {
  put_u16(sink, static_cast<std::uint16_t>(v >> 16));
  put_u16(sink, static_cast<std::uint16_t>(v));
}

// `v` must be <= kMaxVarInt; always the minimal encoding.
template <typename Sink>
void put_varint(Sink& sink, std::uint32_t v) {
  do {
    std::uint8_t b = v & 0x7F;
    v >>= 7;
    if (v != 0) b |= 0x80;
    sink.put(b);
  } while (v != 0);
}

// `bytes` must be at most kMaxFieldLength long (the validator checks before encoding).
template <typename Sink>
void put_string(Sink& sink, std::string_view bytes) {
  put_u16(sink, static_cast<std::uint16_t>(bytes.size()));
  sink.put(bytes);
}

}  // namespace holdfast::mqtt::detail
