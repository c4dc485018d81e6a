// The on-disk record format: round trips, the documented layout, and hostile input.
#include "storage/record.h"

#include <gtest/gtest.h>

#include "storage/codec.h"

namespace holdfast::storage {
namespace {

core::Message sample() {
  core::Message m;
  m.address = "devices/d1/messages/events";
  m.payload = std::string("\x00\xff\x10", 3);
  m.properties.message_id = "m";
  m.properties.creation_time_ms = 42;
  m.properties.user = {{"k", "v"}, {"k", "w"}};
  m.origin = {core::Protocol::kMqtt, "client", "d1"};
  m.received_at_ms = 1'700'000'000'000;
  return m;
}

TEST(Record, RoundTripsEveryField) {
  core::Message m = sample();
  m.amqp_bare = "bare";
  core::DeadLetterInfo dl{"quota", "q", 7, 99};
  std::string record = encode_record(m, dl);
  set_record_cum(record, 123456);
  auto header = decode_record_header(record);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->cum_before, 123456u);
  EXPECT_EQ(header->received_at_ms, m.received_at_ms);
  auto decoded = decode_record(record, 5);
  ASSERT_TRUE(decoded) << decoded.error().to_string();
  EXPECT_EQ(decoded->seq, 5u);
  EXPECT_EQ(decoded->message, m);
  EXPECT_EQ(decoded->dead_letter, dl);
  EXPECT_EQ(decoded->stored_bytes, record.size());
}

TEST(Record, EmptyMessageIsSmall) {
  core::Message m;
  std::string record = encode_record(m, std::nullopt);
  // header + presence bits + protocol + two empty length-prefixed fields
  EXPECT_EQ(record.size(), kRecordHeaderBytes + 4);
  EXPECT_EQ(decode_record(record, 1)->message, m);
}

TEST(Record, LayoutMatchesTheDocumentedFormat) {
  std::string record = encode_record(sample(), std::nullopt);
  set_record_cum(record, 0x0102030405060708);
  EXPECT_EQ(record[0], 1);                                 // version
  EXPECT_EQ(static_cast<unsigned char>(record[1]), 0x08);  // cum, little-endian
  EXPECT_EQ(static_cast<unsigned char>(record[8]), 0x01);
  EXPECT_EQ(read_fixed64_le(record.data() + 9), 1'700'000'000'000u);  // received-at
}

TEST(Record, KeysSortByQueueThenSequence) {
  EXPECT_LT(message_key(1, 255), message_key(1, 256));
  EXPECT_LT(message_key(1, UINT64_MAX), message_key(2, 0));
  EXPECT_EQ(message_key(1, 2).size(), 12u);
}

TEST(Record, EveryTruncationIsCorruptionNotACrash) {
  core::Message m = sample();
  m.amqp_bare = "bare";
  std::string record = encode_record(m, core::DeadLetterInfo{"r", "q", 1, 2});
  for (std::size_t n = 0; n < record.size(); ++n) {
    auto decoded = decode_record(std::string_view(record).substr(0, n), 1);
    ASSERT_FALSE(decoded) << "length " << n;
    EXPECT_EQ(decoded.error().code(), core::Code::kCorruption);
  }
  EXPECT_FALSE(decode_record(record + "x", 1));  // trailing bytes
}

TEST(Record, UnknownVersionOrBitsAreCorruption) {
  std::string record = encode_record(sample(), std::nullopt);
  std::string future = record;
  future[0] = 2;
  EXPECT_EQ(decode_record(future, 1).error().code(), core::Code::kCorruption);
  std::string bits = record;
  bits[kRecordHeaderBytes] = static_cast<char>(0xff);  // presence bits with unknown flags
  EXPECT_FALSE(decode_record(bits, 1));
}

TEST(Record, FlippedBytesNeverCrashTheDecoder) {
  std::string record = encode_record(sample(), core::DeadLetterInfo{"r", "q", 1, 2});
  for (std::size_t i = 0; i < record.size(); ++i) {
    for (unsigned char v : {0x00, 0x7f, 0x80, 0xff}) {
      std::string mutated = record;
      mutated[i] = static_cast<char>(v);
      (void)decode_record(mutated, 1);  // may succeed or fail; must not crash or overread
    }
  }
}

}  // namespace
}  // namespace holdfast::storage
