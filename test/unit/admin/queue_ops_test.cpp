#include "broker/admin/queue_ops.h"

#include <gtest/gtest.h>

#include "broker/admin/message_json.h"
#include "test/unit/storage/store_fixture.h"

namespace holdfast::broker {
namespace {

using nlohmann::json;
using storage::testing::StoreTest;

core::Message full_message() {
  core::Message m;
  m.address = "devices/d1/messages/events/k=v";
  m.payload = std::string("\x00\x01\xff\xfe binary \x80", 14);
  m.properties = {"mid",   "cid",         "application/x-tea",
                  "utf-8", 1700000000123, {{"k", "v"}, {"k", "w"}}};
  m.origin = {core::Protocol::kAmqp, "container-1", "d1"};
  m.received_at_ms = 1700000000456;
  m.amqp_bare = std::string("\x00\x53\x75\xa0\x01\x00", 6);
  return m;
}

TEST(MessageJson, ExportedThenImportedIsTheSameMessage) {
  core::StoredMessage stored;
  stored.seq = 7;
  stored.message = full_message();
  stored.dead_letter = core::DeadLetterInfo{"upstream hub: amqp:not-allowed", "iothub/d1", 3, 99};
  // Through text, as export and import see it.
  json line = json::parse(message_json(stored).dump());
  line["queue"] = "ignored";
  auto imported = append_from_json(line, "copy");
  ASSERT_TRUE(imported) << imported.error().to_string();
  EXPECT_EQ(imported->queue, "copy");
  EXPECT_EQ(imported->message, stored.message);
  EXPECT_EQ(imported->dead_letter, stored.dead_letter);
}

TEST(MessageJson, OnlyAddressAndPayloadAreRequired) {
  auto r = append_from_json(json{{"address", "a/b"}, {"payload_base64", "aGk="}}, "q");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(r->message.payload, "hi");
  EXPECT_EQ(r->message.origin.protocol, core::Protocol::kInternal);
  EXPECT_GT(r->message.received_at_ms, 0);
  EXPECT_FALSE(r->dead_letter);
}

TEST(MessageJson, ErrorsNameTheField) {
  struct Case {
    json j;
    std::string field;
  };
  auto with = [](const char* key, json value) {
    json j = {{"address", "a"}, {"payload_base64", "aGk="}};
    j[key] = std::move(value);
    return j;
  };
  std::vector<Case> cases = {
      {json{{"payload_base64", "aGk="}}, "address"},
      {json{{"address", "a"}}, "payload_base64"},
      {json{{"address", "a"}, {"payload_base64", "a"}}, "payload_base64"},
      {with("received_at_ms", "soon"), "received_at_ms"},
      {with("origin", {{"protocol", "smoke"}}), "origin.protocol"},
      {with("properties", {{"user", {{"k"}}}}), "properties.user"},
      {with("dead_letter", {{"original_seq", -1.5}}), "dead_letter.original_seq"},
      {json::array(), "object"},
  };
  for (const auto& c : cases) {
    auto r = append_from_json(c.j, "q");
    ASSERT_FALSE(r) << c.j.dump();
    EXPECT_EQ(r.error().code(), core::Code::kInvalidArgument);
    EXPECT_NE(r.error().message().find(c.field), std::string::npos) << r.error().message();
  }
}

class QueueOpsTest : public StoreTest {
 protected:
  // `n` dead letters of `original` in `dlq`, payloads "0", "1", ...
  void dead_letters(const std::string& dlq, const std::string& original, int n,
                    const std::string& reason) {
    std::vector<core::AppendRequest> batch;
    for (int i = 0; i < n; ++i) {
      core::AppendRequest a;
      a.queue = dlq;
      a.message = storage::testing::make_message(std::to_string(i));
      a.dead_letter = core::DeadLetterInfo{reason + ": detail " + std::to_string(i), original,
                                           core::Seq(i + 1), 5};
      batch.push_back(std::move(a));
    }
    ASSERT_TRUE(append(std::move(batch)));
  }
  std::vector<std::string> payloads(const std::string& queue) {
    std::vector<std::string> out;
    auto r = read(queue);
    if (r) {
      for (const auto& m : r->messages) out.push_back(m.message.payload);
    }
    return out;
  }
};

TEST_F(QueueOpsTest, ImportIsAllOrNothingAndNamesTheBadLine) {
  std::string good = R"({"address": "a", "payload_base64": "aGk="})";
  auto bad = import_lines(*store_, "q", good + "\n\n" + good + "\n{\"address\": 1}\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("line 4"), std::string::npos) << bad.error().message();
  EXPECT_FALSE(read("q")) << "nothing appended";
  auto r = import_lines(*store_, "q", good + "\n" + good + "\n");
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ((*r)["imported"], 2);
  EXPECT_EQ((*r)["first_seq"], 1);
  EXPECT_EQ((*r)["last_seq"], 2);
  EXPECT_EQ(payloads("q"), (std::vector<std::string>{"hi", "hi"}));
}

TEST_F(QueueOpsTest, ReplayAppendsThenRemovesTheOldestAndLeavesNoCursor) {
  dead_letters("deadletter/q", "q", 3, "upstream hub: amqp:not-allowed");
  auto r = replay_dead_letters(*store_, "deadletter/q", "", 2);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ((*r)["replayed"], 2);
  EXPECT_EQ((*r)["remaining"], 1);
  EXPECT_EQ((*r)["to"]["q"]["count"], 2);
  EXPECT_EQ(payloads("q"), (std::vector<std::string>{"0", "1"}));
  EXPECT_FALSE(read("q")->messages[0].dead_letter) << "no dead-letter record once replayed";
  EXPECT_EQ(payloads("deadletter/q"), std::vector<std::string>{"2"});
  r = replay_dead_letters(*store_, "deadletter/q", "elsewhere", 10);
  ASSERT_TRUE(r) << r.error().to_string();
  EXPECT_EQ(payloads("elsewhere"), std::vector<std::string>{"2"});
  auto stats = core::call_sync<core::QueueStats>(
      [&](auto done) { store_->queue_stats("deadletter/q", std::move(done)); });
  ASSERT_TRUE(stats);
  EXPECT_EQ(stats->depth, 0u);
  EXPECT_TRUE(stats->cursors.empty());
  // Durable: a reopen shows the same.
  reopen();
  EXPECT_EQ(payloads("deadletter/q"), std::vector<std::string>{});
  EXPECT_EQ(payloads("q").size(), 2u);
}

TEST_F(QueueOpsTest, ReplayRefusesWhatItCannotDoAndChangesNothing) {
  ASSERT_TRUE(append_one("plain", "p"));
  auto r = replay_dead_letters(*store_, "plain", "", 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kInvalidArgument);
  EXPECT_FALSE(read("q"));
  dead_letters("deadletter/q", "q", 2, "expired");
  ASSERT_TRUE(core::call_sync<core::Seq>(
      [&](auto done) { store_->create_cursor("deadletter/q", "local", std::move(done)); }));
  r = replay_dead_letters(*store_, "deadletter/q", "", 10);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), core::Code::kUnsupported);
  EXPECT_FALSE(read("q")) << "nothing appended when it could not be removed";
  EXPECT_EQ(replay_dead_letters(*store_, "nobody", "", 1).error().code(), core::Code::kNotFound);
}

TEST_F(QueueOpsTest, DeadLetterQueuesWithReasonsWithoutTheirDetail) {
  dead_letters("deadletter/a", "a", 2, "upstream hub: amqp:not-allowed");
  dead_letters("policy-dlq", "b", 1, "expired");
  ASSERT_TRUE(append_one("ordinary", "x"));
  dead_letters("deadletter/empty", "e", 1, "quota");
  ASSERT_TRUE(core::call_sync<std::uint64_t>(
      [&](auto done) { store_->purge("deadletter/empty", std::move(done)); }));
  auto list = dead_letters_json(*store_, 1000);
  ASSERT_TRUE(list) << list.error().to_string();
  ASSERT_EQ(list->size(), 2u) << list->dump();
  const json& a = (*list)[0];
  EXPECT_EQ(a["queue"], "deadletter/a");
  EXPECT_EQ(a["count"], 2);
  EXPECT_EQ(a["reasons"], json({{"upstream hub: amqp:not-allowed", 2}}));
  EXPECT_EQ(a["original_queues"], json({{"a", 2}}));
  EXPECT_EQ((*list)[1]["queue"], "policy-dlq");
  EXPECT_EQ((*list)[1]["reasons"], json({{"expired", 1}}));
}

}  // namespace
}  // namespace holdfast::broker
