#include "protocols/coap/request.h"

#include <gtest/gtest.h>

#include "protocols/coap/errors.h"

namespace holdfast::coap {
namespace {

using namespace std::chrono_literals;

TEST(Request, PathSegmentsJoinIntoTheAddress) {
  EXPECT_EQ(address_from_path({"devices", "dev1", "messages", "events"}).value(),
            "devices/dev1/messages/events");
  EXPECT_EQ(address_from_path({"temperature"}).value(), "temperature");
  EXPECT_FALSE(address_from_path({}));
  EXPECT_FALSE(address_from_path({"a", ""}));
  EXPECT_FALSE(address_from_path({"a/b"})) << "a '/' inside one segment is not two levels";
  EXPECT_FALSE(address_from_path({"+"}));
  EXPECT_FALSE(address_from_path({"a", "#"}));
  EXPECT_FALSE(address_from_path({std::string("a\0b", 3)}));
}

TEST(Request, FiltersAllowWholeSegmentWildcards) {
  EXPECT_EQ(filter_from_path({"live", "+"}).value(), "live/+");
  EXPECT_EQ(filter_from_path({"live", "#"}).value(), "live/#");
  EXPECT_FALSE(filter_from_path({"live", "#", "x"}));
  EXPECT_FALSE(filter_from_path({"li+ve"}));
}

TEST(Request, ContentFormatsRoundTrip) {
  EXPECT_EQ(content_type_for(50), "application/json");
  EXPECT_EQ(content_type_for(42), "application/octet-stream");
  EXPECT_EQ(content_type_for(11542), "11542");
  for (std::uint16_t f : {0, 40, 41, 42, 47, 50, 60, 110, 112, 11542, 65535}) {
    EXPECT_EQ(format_for(content_type_for(f)), f) << f;
  }
  EXPECT_EQ(format_for("text/plain"), 0);
  EXPECT_FALSE(format_for("application/x-tea"));
  EXPECT_FALSE(format_for(""));
  EXPECT_FALSE(format_for("70000"));
}

TEST(Request, GetQueries) {
  auto q = parse_get_query({});
  ASSERT_TRUE(q);
  EXPECT_FALSE(q->peek);
  EXPECT_FALSE(q->wait);
  q = parse_get_query({"peek", "wait=250"});
  ASSERT_TRUE(q);
  EXPECT_TRUE(q->peek);
  EXPECT_EQ(q->wait, 250ms);
  EXPECT_TRUE(parse_get_query({"mode=peek"})->peek);
  EXPECT_FALSE(parse_get_query({"mode=take"})->peek);
  EXPECT_FALSE(parse_get_query({"wait=soon"}));
  EXPECT_FALSE(parse_get_query({"wait="}));
  EXPECT_FALSE(parse_get_query({"peek=1"}));
  EXPECT_FALSE(parse_get_query({"limit=3"}));
}

TEST(Errors, BrokerCodesMapToCoapCodes) {
  EXPECT_EQ(response_for(core::Code::kInvalidArgument), (ResponseCode{4, 0}));
  EXPECT_EQ(response_for(core::Code::kNotFound), (ResponseCode{4, 4}));
  EXPECT_EQ(response_for(core::Code::kTooLarge), (ResponseCode{4, 13}));
  EXPECT_EQ(response_for(core::Code::kPermissionDenied), (ResponseCode{4, 3}));
  ResponseCode full = response_for(core::Code::kResourceExhausted);
  EXPECT_EQ(full, (ResponseCode{5, 3, true}));
  EXPECT_TRUE(full.retry_hint) << "5.03 carries Max-Age";
  EXPECT_EQ(response_for(core::Code::kIoError), (ResponseCode{5, 0}));
}

}  // namespace
}  // namespace holdfast::coap
