#include "broker/config/queue_template.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace holdfast::config {
namespace {

using ::testing::HasSubstr;

TEST(QueueTemplate, AcceptsPlaceholdersThePatternHas) {
  EXPECT_TRUE(check_queue_template("devices/+/messages/events/#", "iothub/{1}").ok());
  EXPECT_TRUE(check_queue_template("devices/+/messages/events", "iothub/{1}").ok());
  EXPECT_TRUE(check_queue_template("a/+/b/+", "q/{2}/{1}").ok());
  EXPECT_TRUE(check_queue_template("a/+/b/+", "{1}-{2}").ok());
  EXPECT_TRUE(check_queue_template("#", "everything").ok());
  EXPECT_TRUE(check_queue_template("sensors/#", "per-device/{device}").ok());
  EXPECT_TRUE(check_queue_template("+/+", "{device}/{2}").ok());
}

TEST(QueueTemplate, RejectsAMissingWildcard) {
  auto status = check_queue_template("devices/+/messages/events", "iothub/{2}");
  EXPECT_EQ(status.code(), core::Code::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "references {2}, but the pattern \"devices/+/messages/events\" has 1 '+' wildcard");
  EXPECT_THAT(check_queue_template("a/b/#", "q/{1}").message(), HasSubstr("has no '+' wildcards"));
  EXPECT_THAT(check_queue_template("+/+", "q/{3}").message(), HasSubstr("has 2 '+' wildcards"));
}

TEST(QueueTemplate, RejectsMalformedTemplates) {
  EXPECT_THAT(check_queue_template("a/+", "").message(), HasSubstr("is empty"));
  EXPECT_THAT(check_queue_template("a/+", "q/{0}").message(), HasSubstr("unknown placeholder {0}"));
  EXPECT_THAT(check_queue_template("a/+", "q/{id}").message(),
              HasSubstr("unknown placeholder {id}; expected {1} to {9}"));
  EXPECT_THAT(check_queue_template("+/+/+/+/+/+/+/+/+/+", "q/{10}").message(),
              HasSubstr("unknown placeholder {10}"));
  EXPECT_TRUE(check_queue_template("+/+/+/+/+/+/+/+/+/+", "q/{9}").ok());
  EXPECT_THAT(check_queue_template("a/+", "q/{}").message(), HasSubstr("unknown placeholder {}"));
  EXPECT_THAT(check_queue_template("a/+", "q/{1").message(), HasSubstr("'{' without"));
  EXPECT_THAT(check_queue_template("a/+", "q/1}").message(), HasSubstr("'}' without"));
  EXPECT_THAT(check_queue_template("a/+", "q/+").message(), HasSubstr("contains '+'"));
  EXPECT_THAT(check_queue_template("a/+", "q/#").message(), HasSubstr("contains '#'"));
}

}  // namespace
}  // namespace holdfast::config
