// The settings table checks itself: a bad default or an unknown key in a default element is a
// bug in schema.cpp that this test names.

#include "broker/config/schema.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace holdfast::config::schema {
namespace {

using ::testing::IsEmpty;

TEST(Schema, EveryDeclarationIsConsistent) {
  std::set<std::string_view> sections;
  for_each_section([&](const auto& section, auto) {
    SCOPED_TRACE(section.name);
    EXPECT_TRUE(sections.insert(section.name).second) << "duplicate section";
    EXPECT_FALSE(section.doc.empty());
    std::set<std::string_view> keys;
    for (const auto& s : section.settings) {
      SCOPED_TRACE(s.key);
      EXPECT_TRUE(keys.insert(s.key).second) << "duplicate key";
      EXPECT_FALSE(s.doc.empty());
      EXPECT_EQ(s.doc.find('\n'), std::string_view::npos) << "docs are one line";
      EXPECT_LE(s.doc.size(), 120u) << "docs are one line";
      EXPECT_LE(s.min, s.max);
      if (s.kind == Kind::kEnum) {
        EXPECT_FALSE(s.choices.empty());
      }
      EXPECT_TRUE(s.set && s.get);
      if (s.required) {
        EXPECT_TRUE(s.default_text.empty()) << "a required key has no default";
        continue;
      }
      if (!s.computed_default.empty()) {
        EXPECT_TRUE(section.complete) << "a computed default needs a complete hook";
        continue;
      }
      auto value = decode_text(s, s.default_text);
      EXPECT_TRUE(value.has_value()) << "bad default: " << (value ? "" : value.error());
      if (value) {
        EXPECT_EQ(plain_text(s, *value), s.default_text) << "default not canonical";
      }
    }
    auto check_values = [&](const KeyValues& values) {
      for (auto [key, text] : values) {
        const auto* s = section.find(key);
        ASSERT_NE(s, nullptr) << "unknown key " << key;
        auto value = decode_text(*s, text);
        EXPECT_TRUE(value.has_value()) << key << ": " << (value ? "" : value.error());
      }
      for (const auto& s : section.settings) {
        if (!s.required) continue;
        bool given = false;
        for (auto [key, text] : values) given = given || key == s.key;
        EXPECT_TRUE(given) << "element lacks required key " << s.key;
      }
    };
    for (const auto& element : section.default_elements) check_values(element);
    if (!section.example.empty()) check_values(section.example);
    if (!section.is_array) {
      EXPECT_THAT(section.default_elements, IsEmpty());
      EXPECT_THAT(section.example, IsEmpty());
    }
  });
  EXPECT_EQ(sections.size(), 7u);
}

TEST(Schema, LiteralsAndQuoting) {
  SettingInfo size{.key = "s", .kind = Kind::kSize};
  EXPECT_EQ(toml_literal(size, Value(std::int64_t{0})), "0");
  EXPECT_EQ(toml_literal(size, Value(std::int64_t{1000})), "1000");
  EXPECT_EQ(toml_literal(size, Value(std::int64_t{8 << 20})), "\"8MiB\"");
  SettingInfo duration{.key = "d", .kind = Kind::kDuration};
  EXPECT_EQ(toml_literal(duration, Value(std::int64_t{1000})), "\"1s\"");
  SettingInfo flag{.key = "b", .kind = Kind::kBool};
  EXPECT_EQ(toml_literal(flag, Value(true)), "true");
  EXPECT_EQ(quote("a\"b\\c\nd\x01"), "\"a\\\"b\\\\c\\nd\\u0001\"");
}

TEST(Schema, BoundsText) {
  SettingInfo port{.key = "p", .kind = Kind::kInteger, .min = 1, .max = 65535};
  EXPECT_EQ(bounds_text(port), "between 1 and 65535");
  SettingInfo size{.key = "s", .kind = Kind::kSize, .min = 1 << 20};
  EXPECT_EQ(bounds_text(size), "at least 1MiB");
  SettingInfo any{.key = "a", .kind = Kind::kSize};
  EXPECT_EQ(bounds_text(any), "");
}

}  // namespace
}  // namespace holdfast::config::schema
