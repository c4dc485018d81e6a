#include "protocols/coap/psk_keys.h"

#include <gtest/gtest.h>

namespace holdfast::coap {
namespace {

TEST(PskKeys, ParsesIdentitiesAndHexKeys) {
  auto keys = PskKeys::parse("# devices\n\ndev1 00ff10\n  dev-2\t616263  \r\n", "psk.txt");
  ASSERT_TRUE(keys) << keys.error().message();
  EXPECT_EQ(keys->size(), 2u);
  ASSERT_NE(keys->key("dev1"), nullptr);
  EXPECT_EQ(*keys->key("dev1"), std::string("\x00\xff\x10", 3));
  EXPECT_EQ(*keys->key("dev-2"), "abc");
  EXPECT_EQ(keys->key("dev3"), nullptr);
}

TEST(PskKeys, NamesTheBadLine) {
  struct Case {
    const char* text;
    const char* reason;
  };
  for (const auto& c :
       {Case{"a 0011\nb\n", "psk.txt:2: expected"}, Case{"a 001\n", "psk.txt:1: the key must be"},
        Case{"a 00zz\n", "psk.txt:1: the key is not hexadecimal"},
        Case{"a/b 0011\n", "psk.txt:1: identity \"a/b\""},
        Case{"a 00\na 11\n", "psk.txt:2: identity \"a\" is listed twice"}}) {
    auto keys = PskKeys::parse(c.text, "psk.txt");
    ASSERT_FALSE(keys) << c.text;
    EXPECT_EQ(keys.error().code(), core::Code::kInvalidArgument);
    EXPECT_EQ(keys.error().message().rfind(c.reason, 0), 0u) << keys.error().message();
  }
}

TEST(PskKeys, AMissingFileIsNotFound) {
  auto keys = PskKeys::load("/nonexistent/psk.txt");
  ASSERT_FALSE(keys);
  EXPECT_EQ(keys.error().code(), core::Code::kNotFound);
}

}  // namespace
}  // namespace holdfast::coap
