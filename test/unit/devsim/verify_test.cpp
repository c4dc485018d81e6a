// verify's verdicts: loss, duplication and reordering per device (check_device), and
// verify_record over files as devsim writes them and as the emulator records.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "tools/devsim/verify.h"

namespace holdfast::devsim {
namespace {

using Hashes = std::vector<std::string>;

TEST(CheckDevice, EverythingOnceInOrderIsOk) {
  auto v = check_device({"a", "b", "c"}, {"a", "b", "c"});
  EXPECT_TRUE(v.ok());
  EXPECT_EQ(v.missing + v.duplicated + v.out_of_order, 0u);
}

TEST(CheckDevice, NothingSentNothingRecordedIsOkForTheDevice) {
  EXPECT_TRUE(check_device({}, {}).ok());
}

TEST(CheckDevice, LossIsMissingAndDoesNotCountAsReordering) {
  auto v = check_device({"a", "b", "c", "d"}, {"a", "c", "d"});
  EXPECT_EQ(v.missing, 1u);
  EXPECT_EQ(v.out_of_order, 0u);
  EXPECT_FALSE(v.ok());
  EXPECT_EQ(check_device({"a", "b"}, {}).missing, 2u);
}

TEST(CheckDevice, DuplicatesCountEveryExtraCopy) {
  auto v = check_device({"a", "b"}, {"a", "b", "b", "a", "b"});
  EXPECT_EQ(v.duplicated, 3u);
  EXPECT_EQ(v.missing, 0u);
  EXPECT_EQ(v.out_of_order, 0u);  // the first copies are in order
}

TEST(CheckDevice, ASwapIsTwoPositionsOutOfOrder) {
  auto v = check_device({"a", "b", "c", "d"}, {"b", "a", "c", "d"});
  EXPECT_EQ(v.out_of_order, 2u);
  EXPECT_EQ(v.missing, 0u);
  v = check_device({"a", "b", "c"}, {"c", "a", "b"});  // one moved to the front
  EXPECT_EQ(v.out_of_order, 3u);
}

TEST(CheckDevice, ARedeliveryAfterLaterMessagesIsADuplicateNotAReordering) {
  auto v = check_device({"a", "b", "c"}, {"a", "b", "a", "c"});
  EXPECT_EQ(v.duplicated, 1u);
  EXPECT_EQ(v.out_of_order, 0u);
}

class VerifyRecord : public ::testing::Test {
 protected:
  void SetUp() override {
    // ctest runs each case as its own process, in parallel: one pair of files per process.
    std::string base = ::testing::TempDir() + "devsim-verify-" + std::to_string(getpid()) + "-";
    sent_ = base + "sent.jsonl";
    record_ = base + "record.jsonl";
  }
  void TearDown() override {
    std::remove(sent_.c_str());
    std::remove(record_.c_str());
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  // Runs verify_record; its exit status and its last line (the summary).
  std::pair<int, nlohmann::json> run() {
    std::ostringstream captured;
    auto* old = std::cout.rdbuf(captured.rdbuf());
    Output out;
    int rc = verify_record(record_, {sent_}, out);
    std::cout.rdbuf(old);
    std::string last, line;
    std::istringstream lines(captured.str());
    while (std::getline(lines, line)) last = line;
    return {rc, nlohmann::json::parse(last)};
  }

  std::string sent_, record_;
};

constexpr const char* kSent =
    R"({"device":"d1","seq":0,"message_id":"d1-0","sha256":"h0"}
{"device":"d1","seq":1,"message_id":"d1-1","sha256":"h1"}
{"device":"d2","seq":0,"message_id":"d2-0","sha256":"k0"}
{"device":"d2","c2d_topic":"x","seq":5,"sha256":"c2d lines are not sent messages"}
{"sent":3,"acknowledged":3}
)";

TEST_F(VerifyRecord, ARecordWithEverythingPassesAndForeignLinesAreIgnored) {
  write(sent_, kSent);
  write(record_, R"({"device_id":"d1","sha256":"earlier run"}
{"device_id":"d2","sha256":"k0"}
{"device_id":"d1","sha256":"h0"}
{"device_id":"d1","sha256":"h1"}
{"device_id":"d3","sha256":"h1"}
not json
)");
  auto [rc, s] = run();
  EXPECT_EQ(rc, kExitOk) << s;
  EXPECT_EQ(s["sent"], 3);
  EXPECT_EQ(s["recorded"], 3);
  EXPECT_EQ(s["devices"], 2);
  EXPECT_EQ(s["ok"], true);
}

TEST_F(VerifyRecord, LossAndReorderingFailWithExit4) {
  write(sent_, kSent);
  write(record_, R"({"device_id":"d1","sha256":"h1"}
{"device_id":"d1","sha256":"h0"}
)");
  auto [rc, s] = run();
  EXPECT_EQ(rc, kExitMessagesRefused);
  EXPECT_EQ(s["missing"], 1);       // d2's
  EXPECT_EQ(s["out_of_order"], 2);  // d1's swapped
  EXPECT_EQ(s["ok"], false);
}

TEST_F(VerifyRecord, NothingSentFails) {
  write(sent_, "{\"sent\":0}\n");
  write(record_, "");
  EXPECT_EQ(run().first, kExitMessagesRefused);
}

TEST_F(VerifyRecord, AnUnreadableFileIsAUsageError) {
  write(sent_, kSent);
  Output out;
  EXPECT_EQ(verify_record(record_ + ".missing", {sent_}, out), kExitUsage);
  EXPECT_EQ(verify_record(record_, {sent_ + ".missing"}, out), kExitUsage);
}

}  // namespace
}  // namespace holdfast::devsim
