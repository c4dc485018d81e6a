// Payloads as every devsim mode sends them: an 8-byte big-endian sequence number, random bytes
// fixed by (seed, device index), TEA/XTEA-encrypted with --tea-key; and their parsing back.
#include <gtest/gtest.h>

#include <chrono>

#include "tools/devsim/common.h"
#include "tools/tea/tea.h"

namespace holdfast::devsim {
namespace {

using Clock = std::chrono::steady_clock;

CommonOptions options(std::size_t payload_bytes, std::uint32_t seed = 7) {
  CommonOptions o;
  o.payload_bytes = payload_bytes;
  o.seed = seed;
  return o;
}

tea::Params params(tea::Variant v) {
  tea::Params p;
  EXPECT_TRUE(tea::parse_key("00112233445566778899aabbccddeeff", p.key));
  p.variant = v;
  return p;
}

TEST(Payload, HeadedByTheBigEndianSequenceNumber) {
  PayloadSource source(options(5), std::nullopt, 0);
  std::string p = source.next(0x0102030405060708ULL);
  ASSERT_EQ(p.size(), 8u + 5u);
  EXPECT_EQ(p.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
  EXPECT_EQ(payload_seq(p, std::nullopt), 0x0102030405060708ULL);
}

TEST(Payload, SequenceNumbersOfAStream) {
  PayloadSource source(options(16), std::nullopt, 3);
  for (std::uint64_t seq = 0; seq < 300; ++seq) {
    EXPECT_EQ(payload_seq(source.next(seq), std::nullopt), seq);
  }
}

TEST(Payload, SameSeedAndDeviceGiveTheSameBytesOthersDiffer) {
  PayloadSource a(options(32), std::nullopt, 1), b(options(32), std::nullopt, 1);
  PayloadSource other_device(options(32), std::nullopt, 2);
  PayloadSource other_seed(options(32, 8), std::nullopt, 1);
  std::string pa = a.next(0);
  EXPECT_EQ(pa, b.next(0));
  EXPECT_NE(pa, other_device.next(0));
  EXPECT_NE(pa, other_seed.next(0));
  EXPECT_NE(a.next(1).substr(8), pa.substr(8));  // the random part moves on
}

TEST(Payload, ZeroRandomBytesIsJustTheSequenceNumber) {
  PayloadSource source(options(0), std::nullopt, 0);
  EXPECT_EQ(source.next(42), std::string("\0\0\0\0\0\0\0\x2a", 8));
}

class TeaPayload : public ::testing::TestWithParam<tea::Variant> {};

TEST_P(TeaPayload, EncryptedRoundTripThroughTheSharedTeaCode) {
  auto tea = params(GetParam());
  PayloadSource plain(options(13), std::nullopt, 4), encrypted(options(13), tea, 4);
  for (std::uint64_t seq = 0; seq < 50; ++seq) {
    std::string clear = plain.next(seq);
    std::string cipher = encrypted.next(seq);
    ASSERT_EQ(cipher.size(), 24u) << "8 + 13 bytes, zero-padded to whole blocks";
    EXPECT_NE(cipher.substr(0, 8), clear.substr(0, 8));
    std::string decrypted = tea::decrypt(cipher, tea);
    EXPECT_EQ(decrypted.substr(0, clear.size()), clear);
    EXPECT_EQ(decrypted.substr(clear.size()), std::string(3, '\0'));
    EXPECT_EQ(payload_seq(cipher, tea), seq);
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, TeaPayload,
                         ::testing::Values(tea::Variant::kTea, tea::Variant::kXtea));

TEST(Payload, TheWrongCipherDoesNotGiveTheSequenceNumber) {
  PayloadSource xtea(options(8), params(tea::Variant::kXtea), 0);
  std::string cipher = xtea.next(5);
  EXPECT_EQ(payload_seq(cipher, params(tea::Variant::kXtea)), 5u);
  EXPECT_NE(payload_seq(cipher, params(tea::Variant::kTea)), 5u);
  EXPECT_NE(payload_seq(cipher, std::nullopt), 5u);
}

TEST(Payload, TooShortOrNotWholeBlocksHasNoSequenceNumber) {
  EXPECT_EQ(payload_seq("1234567", std::nullopt), std::nullopt);
  EXPECT_EQ(payload_seq("", std::nullopt), std::nullopt);
  EXPECT_EQ(payload_seq("123456789", params(tea::Variant::kXtea)), std::nullopt);
  EXPECT_EQ(payload_seq("", params(tea::Variant::kXtea)), std::nullopt);
}

TEST(Pacing, RateZeroIsAtOnceOtherwiseSeqOverRate) {
  auto start = Clock::now();
  EXPECT_EQ(due_time(start, 0, 1000), start);
  EXPECT_EQ(due_time(start, 10, 0), start);
  EXPECT_EQ(due_time(start, 10, 5), start + std::chrono::milliseconds(500));
  EXPECT_EQ(due_time(start, 0.5, 3), start + std::chrono::seconds(6));
}

TEST(Address, IdIsReplacedEverywhere) {
  EXPECT_EQ(expand_address("devices/{id}/messages/events", "dev7"), "devices/dev7/messages/events");
  EXPECT_EQ(expand_address("temperature", "dev7"), "temperature");
  EXPECT_EQ(expand_address("{id}/{id}", "a"), "a/a");
  EXPECT_EQ(expand_address("x/{i}/{id", "a"), "x/{i}/{id");
  EXPECT_EQ(expand_address("", "a"), "");
}

TEST(MessageId, DeviceDashSeq) {
  EXPECT_EQ(message_id("dev1", 0), "dev1-0");
  EXPECT_EQ(message_id("a-b", 12), "a-b-12");
}

}  // namespace
}  // namespace holdfast::devsim
