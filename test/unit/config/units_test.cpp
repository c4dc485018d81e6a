#include "broker/config/units.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace holdfast::config {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

TEST(ParseSize, AcceptsBytesAndUnits) {
  EXPECT_EQ(parse_size("0"), 0u);
  EXPECT_EQ(parse_size("1073741824"), 1073741824u);
  EXPECT_EQ(parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(parse_size("512MiB"), 512ull << 20);
  EXPECT_EQ(parse_size("64KiB"), 64ull << 10);
  EXPECT_EQ(parse_size("2TiB"), 2ull << 40);
  EXPECT_EQ(parse_size("10MB"), 10'000'000u);
  EXPECT_EQ(parse_size("3KB"), 3000u);
  EXPECT_EQ(parse_size("3kB"), 3000u);
  EXPECT_EQ(parse_size("5GB"), 5'000'000'000u);
  EXPECT_EQ(parse_size("1TB"), 1'000'000'000'000u);
  EXPECT_EQ(parse_size("17B"), 17u);
  EXPECT_EQ(parse_size("64 KiB"), 64ull << 10);
}

TEST(ParseSize, RejectsWithTheAcceptedForms) {
  for (auto bad : {"", "GiB", "1.5GiB", "10XB", "-1", "1 ", "1  KiB", "1gib", "1 2", "0x10",
                   "99999999999999999999", "8589934592GiB"}) {
    auto size = parse_size(bad);
    ASSERT_FALSE(size.has_value()) << bad;
    EXPECT_EQ(size.error().code(), core::Code::kInvalidArgument);
    EXPECT_THAT(size.error().message(), HasSubstr("\"512MiB\"")) << bad;
    EXPECT_THAT(size.error().message(), HasSubstr("KiB, MiB, GiB, TiB")) << bad;
  }
  EXPECT_THAT(parse_size("10XB").error().message(), HasSubstr("unknown unit \"XB\""));
  EXPECT_THAT(parse_size("1.5GiB").error().message(), HasSubstr("not a whole number"));
  EXPECT_THAT(parse_size("8589934592GiB").error().message(), HasSubstr("too large"));
}

TEST(ParseSize, LargestValue) {
  EXPECT_EQ(parse_size("9223372036854775807"), 9223372036854775807u);
  EXPECT_FALSE(parse_size("9223372036854775808").has_value());
  EXPECT_EQ(parse_size("8388607TiB"), 8388607ull << 40);
  EXPECT_FALSE(parse_size("8388608TiB").has_value());
}

TEST(FormatSize, ShortestExactForm) {
  EXPECT_EQ(format_size(0), "0");
  EXPECT_EQ(format_size(1000), "1000");
  EXPECT_EQ(format_size(1536), "1536");
  EXPECT_EQ(format_size(3072), "3KiB");
  EXPECT_EQ(format_size(64ull << 20), "64MiB");
  EXPECT_EQ(format_size(1ull << 30), "1GiB");
  EXPECT_EQ(format_size(1536ull << 20), "1536MiB");
  EXPECT_EQ(format_size(5ull << 40), "5TiB");
}

TEST(FormatSize, ParsesBack) {
  for (std::uint64_t bytes : {0ull, 1ull, 1023ull, 1024ull, 1025ull, 4096ull, 1ull << 20,
                              (1ull << 20) + 1, 10'000'000ull, 3ull << 30, 7ull << 40}) {
    EXPECT_EQ(parse_size(format_size(bytes)), bytes) << bytes;
  }
}

TEST(ParseDuration, AcceptsUnitsAndSequences) {
  EXPECT_EQ(parse_duration("0s"), milliseconds(0));
  EXPECT_EQ(parse_duration("250ms"), milliseconds(250));
  EXPECT_EQ(parse_duration("10s"), milliseconds(10'000));
  EXPECT_EQ(parse_duration("30m"), milliseconds(30 * 60'000));
  EXPECT_EQ(parse_duration("12h"), milliseconds(12 * 3'600'000));
  EXPECT_EQ(parse_duration("7d"), milliseconds(7 * 86'400'000LL));
  EXPECT_EQ(parse_duration("1h30m"), milliseconds(90 * 60'000));
  EXPECT_EQ(parse_duration("1m1s1ms"), milliseconds(61'001));
}

TEST(ParseDuration, RejectsWithTheAcceptedForms) {
  for (auto bad : {"", "10", "s", "1.5s", "10sec", "1w", "10 s", " 10s", "-1s", "1h30",
                   "9999999999999999999d", "106751991168d"}) {
    auto duration = parse_duration(bad);
    ASSERT_FALSE(duration.has_value()) << bad;
    EXPECT_EQ(duration.error().code(), core::Code::kInvalidArgument);
    EXPECT_THAT(duration.error().message(),
                HasSubstr("\"250ms\", \"10s\", \"30m\", \"12h\", \"7d\""))
        << bad;
  }
  EXPECT_THAT(parse_duration("10").error().message(), HasSubstr("no unit"));
  EXPECT_THAT(parse_duration("1w").error().message(), HasSubstr("unknown unit \"w\""));
  EXPECT_THAT(parse_duration("106751991168d").error().message(), HasSubstr("too long"));
}

TEST(FormatDuration, LargestExactUnit) {
  EXPECT_EQ(format_duration(milliseconds(0)), "0s");
  EXPECT_EQ(format_duration(milliseconds(250)), "250ms");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(format_duration(milliseconds(10'000)), "10s");
  EXPECT_EQ(format_duration(milliseconds(90 * 60'000)), "90m");
  EXPECT_EQ(format_duration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(format_duration(milliseconds(7 * 86'400'000LL)), "7d");
  EXPECT_EQ(format_duration(milliseconds(-10'000)), "-10s");
}

TEST(FormatDuration, ParsesBack) {
  for (std::int64_t ms : {0LL, 1LL, 999LL, 1000LL, 61'000LL, 3'600'000LL, 86'400'000LL,
                          86'400'001LL, 9'223'372'036'854'775'807LL}) {
    EXPECT_EQ(parse_duration(format_duration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

}  // namespace
}  // namespace holdfast::config
