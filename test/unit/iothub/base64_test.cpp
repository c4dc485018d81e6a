#include "broker/iothub/base64.h"

#include <gtest/gtest.h>

namespace holdfast::iothub {
namespace {

using core::Code;
using namespace std::literals;

struct Vector {
  const char* bytes;
  const char* text;
};

// RFC 4648 section 10.
constexpr Vector kRfc4648[] = {{"", ""},
                               {"f", "Zg=="},
                               {"fo", "Zm8="},
                               {"foo", "Zm9v"},
                               {"foob", "Zm9vYg=="},
                               {"fooba", "Zm9vYmE="},
                               {"foobar", "Zm9vYmFy"}};

TEST(Base64, EncodesRfc4648Vectors) {
  for (auto v : kRfc4648) EXPECT_EQ(base64_encode(v.bytes), v.text) << v.bytes;
}

TEST(Base64, DecodesRfc4648Vectors) {
  for (auto v : kRfc4648) {
    auto decoded = base64_decode(v.text);
    ASSERT_TRUE(decoded.has_value()) << v.text << ": " << decoded.error().to_string();
    EXPECT_EQ(*decoded, v.bytes) << v.text;
  }
}

TEST(Base64, RoundTripsEveryByteValue) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes.push_back(static_cast<char>(i));
  for (std::size_t n = 0; n <= bytes.size(); n += 37) {
    std::string prefix = bytes.substr(0, n);
    auto decoded = base64_decode(base64_encode(prefix));
    ASSERT_TRUE(decoded.has_value()) << n;
    EXPECT_EQ(*decoded, prefix) << n;
  }
}

TEST(Base64, HandlesInputLongerThanOneChunk) {
  // 12288 zero bytes are 16384 'A's; the 12289th needs "AA==". Crosses the internal chunking.
  std::string zeros(12289, '\0');
  std::string text = base64_encode(zeros);
  EXPECT_EQ(text, std::string(16384, 'A') + "AA==");
  auto decoded = base64_decode(text);
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, zeros);
}

TEST(Base64, DecodesTheIotHubTestKeyTo32Bytes) {
  auto key = base64_decode("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
  ASSERT_TRUE(key.has_value());
  ASSERT_EQ(key->size(), 32u);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(static_cast<unsigned char>((*key)[i]), i);
}

TEST(Base64, RejectsInvalidInput) {
  struct Bad {
    std::string_view text;
    std::string_view reason;
  };
  for (auto [text, reason] : {
           Bad{"Zg=", "multiple of 4"},
           Bad{"Zg", "multiple of 4"},
           Bad{"Zm9vY", "multiple of 4"},
           Bad{"Zg==\n", "multiple of 4"},
           Bad{" Zg=", "outside the alphabet"},
           Bad{"Zm9\n", "outside the alphabet"},
           Bad{"Zg-_", "outside the alphabet"},  // base64url is another alphabet
           Bad{"Zm9v\0Zg="sv, "outside the alphabet"},
           Bad{"====", "'=' before the end"},
           Bad{"Z===", "'=' before the end"},
           Bad{"Zg==Zm9v", "'=' before the end"},
           Bad{"Zh==", "not canonical"},
           Bad{"Zm9=", "not canonical"},
       }) {
    auto decoded = base64_decode(text);
    ASSERT_FALSE(decoded.has_value()) << text;
    EXPECT_EQ(decoded.error().code(), Code::kInvalidArgument) << text;
    EXPECT_NE(decoded.error().message().find(reason), std::string::npos)
        << text << ": " << decoded.error().message();
  }
}

}  // namespace
}  // namespace holdfast::iothub
