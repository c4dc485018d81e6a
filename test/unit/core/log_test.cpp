#include "broker/core/log.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace holdfast::core {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "holdfast-log-XXXXXX");
    dir_ = mkdtemp(pattern.data());
    path_ = dir_ + "/holdfast.log";
  }
  void TearDown() override {
    configure_logging({}).ignore();
    std::filesystem::remove_all(dir_);
  }
  std::string dir_, path_;
};

TEST_F(LogTest, FiltersByLevelAndFormatsLines) {
  ASSERT_TRUE(configure_logging({LogLevel::kWarn, path_, std::chrono::milliseconds(0)}).ok());
  log_info("store", "not shown");
  log_warn("store", "disk nearly full");
  std::string text = slurp(path_);
  EXPECT_EQ(text.find("not shown"), std::string::npos);
  EXPECT_NE(text.find("warn  store: disk nearly full\n"), std::string::npos);
  EXPECT_EQ(text[4], '-');  // ISO-8601 timestamp first
}

TEST_F(LogTest, RepeatsWithinTheIntervalAreCountedNotWritten) {
  ASSERT_TRUE(configure_logging({LogLevel::kInfo, path_, std::chrono::hours(1)}).ok());
  for (int i = 0; i < 1000; ++i) log_warn("bridge", "connection refused");
  log_warn("bridge", "other");
  std::string text = slurp(path_);
  EXPECT_EQ(count(text, "connection refused"), 1);
  EXPECT_EQ(count(text, "other"), 1);
}

TEST_F(LogTest, SuppressedCountIsReportedWhenTheIntervalEnds) {
  auto now = std::chrono::steady_clock::now();
  LogOptions options{LogLevel::kInfo, path_, std::chrono::seconds(10)};
  options.clock = [&now] { return now; };
  ASSERT_TRUE(configure_logging(options).ok());
  log(LogLevel::kWarn, "bridge", "down", "state");
  now += std::chrono::seconds(9);
  log(LogLevel::kWarn, "bridge", "down", "state");  // within the interval: counted only
  now += std::chrono::seconds(2);
  log(LogLevel::kWarn, "bridge", "down", "state");  // a new interval: written with the count
  std::string text = slurp(path_);
  EXPECT_EQ(count(text, "down"), 2);
  EXPECT_NE(text.find("(1 similar lines suppressed"), std::string::npos);
}

TEST(LogLevels, ParseAndName) {
  EXPECT_EQ(*parse_log_level("debug"), LogLevel::kDebug);
  auto bad = parse_log_level("verbose");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("expected trace"), std::string::npos);
  EXPECT_EQ(log_level_name(LogLevel::kError), "error");
}

TEST(LogFile, UnwritablePathIsAnError) {
  auto s = configure_logging({LogLevel::kInfo, "/nonexistent/dir/x.log"});
  EXPECT_EQ(s.code(), Code::kIoError);
  EXPECT_NE(s.message().find("/nonexistent/dir/x.log"), std::string::npos);
}

}  // namespace
}  // namespace holdfast::core
