#include "broker/iothub/iso8601.h"

#include <gtest/gtest.h>

namespace holdfast::iothub {
namespace {

constexpr std::int64_t kVectorMs = 1700000000000;  // 2023-11-14T22:13:20Z

TEST(Iso8601, ParsesUtcTimes) {
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20Z"), kVectorMs);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14t22:13:20z"), kVectorMs);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20+00:00"), kVectorMs);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20-00:00"), kVectorMs);
  EXPECT_EQ(parse_iso8601_utc_ms("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(parse_iso8601_utc_ms("1969-12-31T23:59:59.999Z"), -1);
  EXPECT_EQ(parse_iso8601_utc_ms("2024-02-29T00:00:00Z"), 1709164800000);
  EXPECT_EQ(parse_iso8601_utc_ms("0000-01-01T00:00:00Z"), -62167219200000);
  EXPECT_EQ(parse_iso8601_utc_ms("9999-12-31T23:59:59.999Z"), 253402300799999);
}

TEST(Iso8601, KeepsMillisecondsAndTruncatesFinerFractions) {
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20.5Z"), kVectorMs + 500);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20.12Z"), kVectorMs + 120);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20.123Z"), kVectorMs + 123);
  EXPECT_EQ(parse_iso8601_utc_ms("2023-11-14T22:13:20.1239999Z"), kVectorMs + 123);
}

TEST(Iso8601, RejectsWhatIsNotAUtcTimestamp) {
  for (auto bad : {"",
                   "2023-11-14",
                   "2023-11-14T22:13:20",
                   "2023-11-14T22:13Z",
                   "2023-11-14 22:13:20Z",
                   "2023-11-14T22:13:20+01:00",
                   "2023-11-14T22:13:20.Z",
                   "2023-11-14T22:13:20Zx",
                   "2023-13-01T00:00:00Z",
                   "2023-00-01T00:00:00Z",
                   "2023-02-29T00:00:00Z",
                   "2023-04-31T00:00:00Z",
                   "2023-11-14T24:00:00Z",
                   "2023-11-14T23:60:00Z",
                   "2023-11-14T23:59:60Z",
                   "23-11-14T22:13:20Z",
                   "+2023-11-14T22:13:20Z",
                   "2023/11/14T22:13:20Z",
                   "2023-11-14T22:13:2xZ",
                   "1700000000"}) {
    EXPECT_EQ(parse_iso8601_utc_ms(bad), std::nullopt) << bad;
  }
}

TEST(Iso8601, Formats) {
  EXPECT_EQ(format_iso8601_utc_ms(kVectorMs + 123), "2023-11-14T22:13:20.123Z");
  EXPECT_EQ(format_iso8601_utc_ms(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_utc_ms(-1), "1969-12-31T23:59:59.999Z");
  EXPECT_EQ(format_iso8601_utc_ms(INT64_MAX), "9999-12-31T23:59:59.999Z");
  EXPECT_EQ(format_iso8601_utc_ms(INT64_MIN), "0000-01-01T00:00:00.000Z");
  EXPECT_EQ(format_iso8601_utc_s(1700000000), "2023-11-14T22:13:20Z");
  EXPECT_EQ(format_iso8601_utc_s(INT64_MAX), "9999-12-31T23:59:59Z");
}

TEST(Iso8601, FormatThenParseIsIdentity) {
  for (std::int64_t ms : {std::int64_t{0}, std::int64_t{-1}, kVectorMs + 7,
                          std::int64_t{951782400001}, std::int64_t{253402300799999}}) {
    EXPECT_EQ(parse_iso8601_utc_ms(format_iso8601_utc_ms(ms)), ms) << ms;
  }
}

}  // namespace
}  // namespace holdfast::iothub
