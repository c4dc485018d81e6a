#pragma once
// The on-disk format of the store: RocksDB keys and message records. Pure functions; any
// thread. Changing anything here means a new format version (see kFormatVersion).
//
// Message record, version 1:
//   u8      record version (1)
//   u64 LE  cumulative bytes of all records appended to the queue before this one
//   u64 LE  received-at, Unix epoch ms
//   varint  field-presence bits (kHas*)
//   u8      origin protocol
//   bytes   address, payload               (varint length + bytes)
//   then, in bit order, only the fields whose bit is set.
// The cumulative count lets the store know the bytes of any range of a queue from the records
// at its two ends, so per-queue byte counts never need a scan.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "broker/core/queue_store.h"

namespace holdfast::storage {

// Version of the whole store layout, kept under a metadata key. A store with a higher version
// than this is refused: it was written by a newer Holdfast.
constexpr std::uint32_t kFormatVersion = 1;

constexpr std::uint8_t kRecordVersion = 1;
constexpr std::size_t kRecordCumOffset = 1;
constexpr std::size_t kRecordHeaderBytes = 17;

// messages column family: queue id (u32 BE) | seq (u64 BE).
std::string message_key(std::uint32_t queue_id, core::Seq seq);
// metadata column family.
std::string format_version_key();                                         // "v"
std::string queue_meta_key(std::uint32_t queue_id);                       // "q" | id BE
std::string cursor_key(std::uint32_t queue_id, std::string_view cursor);  // "c" | id BE | name
constexpr char kQueueMetaPrefix = 'q';
constexpr char kCursorPrefix = 'c';

// Encodes a record with a zero cumulative count; the store thread sets it with set_record_cum.
std::string encode_record(const core::Message& message,
                          const std::optional<core::DeadLetterInfo>& dead_letter);
void set_record_cum(std::string& record, std::uint64_t cum_before);

struct RecordHeader {
  std::uint64_t cum_before = 0;
  std::int64_t received_at_ms = 0;
};
core::Result<RecordHeader> decode_record_header(std::string_view record);

// Decodes a whole record; kCorruption if it is truncated or of an unknown version.
core::Result<core::StoredMessage> decode_record(std::string_view record, core::Seq seq);

}  // namespace holdfast::storage
