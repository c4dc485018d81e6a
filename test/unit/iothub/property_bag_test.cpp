#include "broker/iothub/property_bag.h"

#include <gtest/gtest.h>

namespace holdfast::iothub {
namespace {

using core::Code;
using core::Properties;
using core::UserProperties;

constexpr std::int64_t kCtimeMs = 1700000000123;  // 2023-11-14T22:13:20.123Z

Properties parsed(std::string_view bag) {
  Properties out;
  auto status = apply_property_bag(bag, out);
  EXPECT_TRUE(status.ok()) << bag << ": " << status.to_string();
  return out;
}

TEST(PropertyBag, EmptyBagsChangeNothing) {
  Properties before;
  before.message_id = "m";
  before.user = {{"k", "v"}};
  for (auto bag : {"", "/", "&", "&&/"}) {
    Properties out = before;
    ASSERT_TRUE(apply_property_bag(bag, out).ok()) << bag;
    EXPECT_EQ(out, before) << bag;
  }
}

TEST(PropertyBag, MapsSystemKeysAndKeepsUserPropertiesInOrder) {
  Properties p = parsed(
      "%24.mid=42&%24.cid=c%201&%24.ct=application%2Fjson&%24.ce=utf-8"
      "&%24.ctime=2023-11-14T22%3A13%3A20.123Z&temp=high&a%26b=x%3Dy&temp=low");
  EXPECT_EQ(p.message_id, "42");
  EXPECT_EQ(p.correlation_id, "c 1");
  EXPECT_EQ(p.content_type, "application/json");
  EXPECT_EQ(p.content_encoding, "utf-8");
  EXPECT_EQ(p.creation_time_ms, kCtimeMs);
  EXPECT_EQ(p.user, (UserProperties{{"temp", "high"}, {"a&b", "x=y"}, {"temp", "low"}}));
}

TEST(PropertyBag, AcceptsAnUnencodedDollar) {
  Properties p = parsed("$.mid=7&$.ct=text%2Fplain&$.ctime=2023-11-14T22:13:20.123Z");
  EXPECT_EQ(p.message_id, "7");
  EXPECT_EQ(p.content_type, "text/plain");
  EXPECT_EQ(p.creation_time_ms, kCtimeMs);
  EXPECT_TRUE(p.user.empty());
}

TEST(PropertyBag, KeepsOtherSystemKeysAsUserPropertiesByName) {
  Properties p = parsed(
      "%24.uid=u1&%24.exp=2030-01-01T00%3A00%3A00Z&%24.on=out1&%24.ifid=urn%3Ax&%24.sub=thermo"
      "&%24.schema=s&%24.to=%2Fdevices%2Fd%2FmessageS%2FdeviceBound&iothub-ack=full");
  EXPECT_EQ(p.user, (UserProperties{{"$.uid", "u1"},
                                    {"$.exp", "2030-01-01T00:00:00Z"},
                                    {"$.on", "out1"},
                                    {"$.ifid", "urn:x"},
                                    {"$.sub", "thermo"},
                                    {"$.schema", "s"},
                                    {"$.to", "/devices/d/messageS/deviceBound"},
                                    {"iothub-ack", "full"}}));
  EXPECT_EQ(p.creation_time_ms, std::nullopt);
}

TEST(PropertyBag, KeepsAnUnparseableCtimeAsAUserProperty) {
  Properties p = parsed("%24.ctime=yesterday&%24.ctime=2023-11-14T22%3A13%3A20%2B01%3A00");
  EXPECT_EQ(p.creation_time_ms, std::nullopt);
  EXPECT_EQ(p.user,
            (UserProperties{{"$.ctime", "yesterday"}, {"$.ctime", "2023-11-14T22:13:20+01:00"}}));
}

TEST(PropertyBag, ToleratesLooseSyntax) {
  EXPECT_EQ(parsed("a=1/").user, (UserProperties{{"a", "1"}}));  // C# trailing '/'
  EXPECT_EQ(parsed("a").user, (UserProperties{{"a", ""}}));      // no '='
  EXPECT_EQ(parsed("a=").user, (UserProperties{{"a", ""}}));
  EXPECT_EQ(parsed("a=1&&b&").user, (UserProperties{{"a", "1"}, {"b", ""}}));  // empty fields
  EXPECT_EQ(parsed("a=b=c").user, (UserProperties{{"a", "b=c"}}));             // raw '=' in value
  EXPECT_EQ(parsed("a=x+y").user, (UserProperties{{"a", "x+y"}}));             // '+' is not space
  EXPECT_EQ(parsed("a=1/2/").user, (UserProperties{{"a", "1/2"}}));            // one '/' trimmed
  EXPECT_EQ(parsed("k=%E2%82%AC").user, (UserProperties{{"k", "\xE2\x82\xAC"}}));
}

TEST(PropertyBag, TheLastOfARepeatedSystemKeyWins) {
  Properties p = parsed(
      "%24.mid=1&%24.mid=2&%24.ctime=2023-11-14T22%3A13%3A20.123Z"
      "&%24.ctime=1970-01-01T00%3A00%3A00Z");
  EXPECT_EQ(p.message_id, "2");
  EXPECT_EQ(p.creation_time_ms, 0);
}

TEST(PropertyBag, AppendsToExistingProperties) {
  Properties out;
  out.message_id = "old";
  out.content_type = "keep";
  out.user = {{"first", "1"}};
  ASSERT_TRUE(apply_property_bag("%24.mid=new&second=2", out).ok());
  EXPECT_EQ(out.message_id, "new");
  EXPECT_EQ(out.content_type, "keep");
  EXPECT_EQ(out.user, (UserProperties{{"first", "1"}, {"second", "2"}}));
}

TEST(PropertyBag, RejectsBadBagsAndLeavesTheOutputAlone) {
  struct Bad {
    std::string_view bag;
    std::string_view reason;
  };
  Properties before;
  before.correlation_id = "c";
  before.user = {{"k", "v"}};
  for (auto [bag, reason] : {
           Bad{"%24.mid=1&x=1&%zz=1", "bad %-escape in the name of property #3"},
           Bad{"a=%4", "bad %-escape in the value of property #1"},
           Bad{"a=1&b=%", "bad %-escape in the value of property #2"},
           Bad{"%24.mid=1&=v", "property #2 has an empty name"},
           Bad{"=", "property #1 has an empty name"},
       }) {
    Properties out = before;
    auto status = apply_property_bag(bag, out);
    EXPECT_EQ(status.code(), Code::kInvalidArgument) << bag;
    EXPECT_NE(status.message().find(reason), std::string::npos)
        << bag << " -> " << status.message();
    EXPECT_EQ(out, before) << bag;
  }
}

TEST(PropertyBagEncode, WritesSystemKeysFirstThenUserProperties) {
  Properties p;
  p.message_id = "42";
  p.correlation_id = "c 1";
  p.content_type = "application/json";
  p.content_encoding = "utf-8";
  p.creation_time_ms = kCtimeMs;
  p.user = {{"temp", "high"}, {"a&b", "x=y"}, {"$.sub", "thermo"}, {"empty", ""}};
  EXPECT_EQ(encode_property_bag(p),
            "%24.mid=42&%24.cid=c%201&%24.ct=application%2Fjson&%24.ce=utf-8"
            "&%24.ctime=2023-11-14T22%3A13%3A20.123Z&temp=high&a%26b=x%3Dy&%24.sub=thermo&empty=");
}

TEST(PropertyBagEncode, OmitsAbsentFields) {
  EXPECT_EQ(encode_property_bag(Properties{}), "");
  Properties p;
  p.content_type = "text/plain";
  EXPECT_EQ(encode_property_bag(p), "%24.ct=text%2Fplain");
  Properties epoch;
  epoch.creation_time_ms = 0;  // set, even though zero
  EXPECT_EQ(encode_property_bag(epoch), "%24.ctime=1970-01-01T00%3A00%3A00.000Z");
}

TEST(PropertyBagEncode, RoundTrips) {
  Properties p;
  p.message_id = "id&=/?#%+ $";
  p.correlation_id = "\xE2\x82\xAC";
  p.content_type = "application/json; charset=utf-8";
  p.content_encoding = "gzip";
  p.creation_time_ms = -1;
  p.user = {{"k", "v"},     {"k", "v2"},  {"sp ace", ""},
            {"$.sub", "s"}, {"%24", "%"}, {"\x01", "\x7f"}};
  Properties back;
  ASSERT_TRUE(apply_property_bag(encode_property_bag(p), back).ok());
  EXPECT_EQ(back, p);
}

}  // namespace
}  // namespace holdfast::iothub
