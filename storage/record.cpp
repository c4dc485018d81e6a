#include "storage/record.h"

#include "storage/codec.h"

namespace holdfast::storage {
namespace {

enum : std::uint64_t {
  kHasMessageId = 1 << 0,
  kHasCorrelationId = 1 << 1,
  kHasContentType = 1 << 2,
  kHasContentEncoding = 1 << 3,
  kHasCreationTime = 1 << 4,
  kHasUserProperties = 1 << 5,
  kHasClientId = 1 << 6,
  kHasDeviceId = 1 << 7,
  kHasAmqpBare = 1 << 8,
  kHasDeadLetter = 1 << 9,
  kKnownBits = (1 << 10) - 1,
};

core::Status corrupt(core::Seq seq, std::string_view what) {
  return core::Status(core::Code::kCorruption,
                      "record " + std::to_string(seq) + ": " + std::string(what));
}

}  // namespace

std::string message_key(std::uint32_t queue_id, core::Seq seq) {
  std::string key;
  key.reserve(12);
  put_fixed32_be(key, queue_id);
  put_fixed64_be(key, seq);
  return key;
}

std::string format_version_key() {
  return "v";
}

std::string queue_meta_key(std::uint32_t queue_id) {
  std::string key(1, kQueueMetaPrefix);
  put_fixed32_be(key, queue_id);
  return key;
}

std::string cursor_key(std::uint32_t queue_id, std::string_view cursor) {
  std::string key(1, kCursorPrefix);
  put_fixed32_be(key, queue_id);
  key.append(cursor);
  return key;
}

std::string encode_record(const core::Message& m,
                          const std::optional<core::DeadLetterInfo>& dead_letter) {
  const core::Properties& p = m.properties;
  std::uint64_t bits = 0;
  if (!p.message_id.empty()) bits |= kHasMessageId;
  if (!p.correlation_id.empty()) bits |= kHasCorrelationId;
  if (!p.content_type.empty()) bits |= kHasContentType;
  if (!p.content_encoding.empty()) bits |= kHasContentEncoding;
  if (p.creation_time_ms) bits |= kHasCreationTime;
  if (!p.user.empty()) bits |= kHasUserProperties;
  if (!m.origin.client_id.empty()) bits |= kHasClientId;
  if (!m.origin.device_id.empty()) bits |= kHasDeviceId;
  if (m.amqp_bare) bits |= kHasAmqpBare;
  if (dead_letter) bits |= kHasDeadLetter;

  std::string out;
  out.reserve(kRecordHeaderBytes + 8 + m.address.size() + m.payload.size() +
              (m.amqp_bare ? m.amqp_bare->size() : 0) + 16);
  out.push_back(static_cast<char>(kRecordVersion));
  put_fixed64_le(out, 0);
  put_fixed64_le(out, static_cast<std::uint64_t>(m.received_at_ms));
  put_varint(out, bits);
  out.push_back(static_cast<char>(m.origin.protocol));
  put_bytes(out, m.address);
  put_bytes(out, m.payload);
  if (bits & kHasMessageId) put_bytes(out, p.message_id);
  if (bits & kHasCorrelationId) put_bytes(out, p.correlation_id);
  if (bits & kHasContentType) put_bytes(out, p.content_type);
  if (bits & kHasContentEncoding) put_bytes(out, p.content_encoding);
  if (bits & kHasCreationTime) put_varint(out, static_cast<std::uint64_t>(*p.creation_time_ms));
  if (bits & kHasUserProperties) {
    put_varint(out, p.user.size());
    for (const auto& [key, value] : p.user) {
      put_bytes(out, key);
      put_bytes(out, value);
    }
  }
  if (bits & kHasClientId) put_bytes(out, m.origin.client_id);
  if (bits & kHasDeviceId) put_bytes(out, m.origin.device_id);
  if (bits & kHasAmqpBare) put_bytes(out, *m.amqp_bare);
  if (bits & kHasDeadLetter) {
    put_bytes(out, dead_letter->reason);
    put_bytes(out, dead_letter->original_queue);
    put_varint(out, dead_letter->original_seq);
    put_varint(out, static_cast<std::uint64_t>(dead_letter->dead_lettered_at_ms));
  }
  return out;
}

void set_record_cum(std::string& record, std::uint64_t cum_before) {
  write_fixed64_le(record.data() + kRecordCumOffset, cum_before);
}

core::Result<RecordHeader> decode_record_header(std::string_view record) {
  if (record.size() < kRecordHeaderBytes || record[0] != static_cast<char>(kRecordVersion)) {
    return core::error(core::Code::kCorruption,
                       "record header is truncated or of an unknown version");
  }
  RecordHeader header;
  header.cum_before = read_fixed64_le(record.data() + 1);
  header.received_at_ms = static_cast<std::int64_t>(read_fixed64_le(record.data() + 9));
  return header;
}

core::Result<core::StoredMessage> decode_record(std::string_view record, core::Seq seq) {
  auto header = decode_record_header(record);
  if (!header) return core::error(corrupt(seq, header.error().message()));
  core::StoredMessage out;
  out.seq = seq;
  out.stored_bytes = record.size();
  core::Message& m = out.message;
  core::Properties& p = m.properties;
  m.received_at_ms = header->received_at_ms;

  Reader r(record.substr(kRecordHeaderBytes));
  std::uint64_t bits = 0;
  std::uint8_t protocol = 0;
  if (!r.get_varint(bits) || !r.get_u8(protocol) || !r.get_string(m.address) ||
      !r.get_string(m.payload)) {
    return core::error(corrupt(seq, "truncated address or payload"));
  }
  if (bits & ~std::uint64_t{kKnownBits}) return core::error(corrupt(seq, "unknown field bits"));
  if (protocol > static_cast<std::uint8_t>(core::Protocol::kInternal)) {
    return core::error(corrupt(seq, "unknown protocol"));
  }
  m.origin.protocol = static_cast<core::Protocol>(protocol);
  bool ok = true;
  if (bits & kHasMessageId) ok = ok && r.get_string(p.message_id);
  if (bits & kHasCorrelationId) ok = ok && r.get_string(p.correlation_id);
  if (bits & kHasContentType) ok = ok && r.get_string(p.content_type);
  if (bits & kHasContentEncoding) ok = ok && r.get_string(p.content_encoding);
  if (ok && (bits & kHasCreationTime)) {
    std::uint64_t v = 0;
    ok = r.get_varint(v);
    p.creation_time_ms = static_cast<std::int64_t>(v);
  }
  if (ok && (bits & kHasUserProperties)) {
    std::uint64_t count = 0;
    ok = r.get_varint(count);
    for (std::uint64_t i = 0; ok && i < count; ++i) {
      std::string key, value;
      ok = r.get_string(key) && r.get_string(value);
      if (ok) p.user.emplace_back(std::move(key), std::move(value));
    }
  }
  if (bits & kHasClientId) ok = ok && r.get_string(m.origin.client_id);
  if (bits & kHasDeviceId) ok = ok && r.get_string(m.origin.device_id);
  if (ok && (bits & kHasAmqpBare)) {
    m.amqp_bare.emplace();
    ok = r.get_string(*m.amqp_bare);
  }
  if (ok && (bits & kHasDeadLetter)) {
    core::DeadLetterInfo& dl = out.dead_letter.emplace();
    std::uint64_t at = 0;
    ok = r.get_string(dl.reason) && r.get_string(dl.original_queue) &&
         r.get_varint(dl.original_seq) && r.get_varint(at);
    dl.dead_lettered_at_ms = static_cast<std::int64_t>(at);
  }
  if (!ok) return core::error(corrupt(seq, "truncated optional field"));
  if (!r.empty()) return core::error(corrupt(seq, "trailing bytes"));
  return out;
}

}  // namespace holdfast::storage
