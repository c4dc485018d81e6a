#include "protocols/mqtt/decoder.h"

#include <algorithm>
#include <cstddef>
#include <string>

#include "protocols/mqtt/detail/parser.h"

namespace holdfast::mqtt {

namespace {

// A body buffer above this is freed after use rather than kept for the next packet, so that
// one large packet does not pin memory for the life of the connection.
constexpr std::size_t kKeepBufferCapacity = 64 * 1024;

}  // namespace

Decoder::Decoder(DecoderOptions options) : options_(options), version_(options.version) {}

CodecStatus Decoder::fail(CodecStatus status) {
  status_ = std::move(status);
  body_ = std::vector<char>();
  return status_;
}

CodecStatus Decoder::complete(std::string_view body, std::vector<Packet>& out) {
  Packet packet;
  if (auto s = detail::parse_packet(first_byte_, body, version_, packet); !s.ok()) {
    return fail(std::move(s));
  }
  if (const auto* connect = std::get_if<Connect>(&packet)) version_ = connect->version;
  out.push_back(std::move(packet));
  header_size_ = 0;
  remaining_ = 0;
  header_done_ = false;
  if (body_.capacity() > kKeepBufferCapacity) {
    body_ = std::vector<char>();
  } else {
    body_.clear();
  }
  return {};
}

CodecStatus Decoder::feed(std::string_view bytes, std::vector<Packet>& out) {
  if (!status_.ok()) return status_;
  while (!bytes.empty()) {
    if (!header_done_) {
      const auto b = static_cast<std::uint8_t>(bytes.front());
      bytes.remove_prefix(1);
      ++header_size_;
      if (header_size_ == 1) {
        first_byte_ = b;
        if (auto s = detail::check_first_byte(b, version_); !s.ok()) return fail(std::move(s));
        continue;
      }
      // Remaining Length byte number header_size_ - 1 (MQTT 5 section 1.5.5).
      remaining_ |= std::uint32_t{b & 0x7Fu} << (7 * (header_size_ - 2));
      if ((b & 0x80) != 0) {
        if (header_size_ == 5) {
          return fail(codec_error(CodecError::kMalformedRemainingLength,
                                  "Remaining Length continues past its fourth byte"));
        }
        continue;
      }
      header_done_ = true;
      const std::size_t total = header_size_ + remaining_;
      if (total > options_.max_packet_size) {
        return fail(codec_error(
            CodecError::kPacketTooLarge,
            std::string(packet_type_name(static_cast<PacketType>(first_byte_ >> 4))) + " of " +
                std::to_string(total) + " bytes exceeds the maximum packet size " +
                std::to_string(options_.max_packet_size)));
      }
      if (bytes.size() >= remaining_) {
        // The whole body is here: parse it in place, without copying.
        const std::string_view body = bytes.substr(0, remaining_);
        bytes.remove_prefix(remaining_);
        if (auto s = complete(body, out); !s.ok()) return s;
        continue;
      }
    }
    const std::size_t take = std::min<std::size_t>(remaining_ - body_.size(), bytes.size());
    // Grow with what has arrived (doubling, capped at the packet's size) rather than reserving
    // the announced size up front: a peer must send the bytes to make us hold them.
    const std::size_t needed = body_.size() + take;
    if (needed > body_.capacity()) {
      body_.reserve(std::min<std::size_t>(remaining_, std::max(needed, 2 * body_.capacity())));
    }
    body_.insert(body_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(take));
    bytes.remove_prefix(take);
    if (body_.size() == remaining_) {
      if (auto s = complete(std::string_view(body_.data(), body_.size()), out); !s.ok()) return s;
    }
  }
  return {};
}

}  // namespace holdfast::mqtt
