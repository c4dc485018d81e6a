#pragma once
// An in-memory model of the QueueStore contract for the randomized model test, and the
// comparisons of the store's results with it. Deliberately naive (a map of every stored
// message), so that it is obviously right.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/queue_store.h"
#include "storage/record.h"

namespace holdfast::storage::model {

using core::Code;
using core::Result;
using core::Seq;

// --- The model ---------------------------------------------------------------------------

bool valid_name(const std::string& name) {
  return !name.empty() && name.size() <= 1024 && name.find('\0') == std::string::npos;
}

struct ModelMessage {
  core::Message message;
  std::size_t stored_bytes = 0;
};

struct ModelQueue {
  std::string name;
  Seq head = 1;
  Seq next = 1;
  std::map<Seq, ModelMessage> messages;  // exactly [head, next)
  std::map<std::string, Seq> cursors;    // positions; the store reports them clamped to head
  std::uint64_t appended = 0;
  std::uint64_t removed = 0;

  Seq position(Seq cursor) const { return std::max(cursor, head); }

  void remove_below(Seq new_head) {
    for (; head < new_head; ++head) {
      messages.erase(head);
      ++removed;
    }
  }

  // Messages every cursor has passed are gone; a queue without cursors keeps everything.
  void release() {
    if (cursors.empty()) return;
    Seq lowest = std::numeric_limits<Seq>::max();
    for (const auto& [cursor, seq] : cursors) lowest = std::min(lowest, position(seq));
    remove_below(lowest);
  }

  core::QueueStats stats() const {
    core::QueueStats s;
    s.name = name;
    s.head = head;
    s.next = next;
    s.depth = next - head;
    for (const auto& [seq, m] : messages) s.bytes += m.stored_bytes;
    s.oldest_received_at_ms = head < next ? messages.at(head).message.received_at_ms : 0;
    s.appended = appended;
    s.removed = removed;
    for (const auto& [cursor, seq] : cursors) s.cursors.push_back({cursor, position(seq)});
    return s;
  }
};

// What the QueueStore contract says each operation returns, without retention or quotas.
class Model {
 public:
  const std::map<std::string, ModelQueue>& queues() const { return queues_; }
  const ModelQueue* find(const std::string& name) const {
    auto it = queues_.find(name);
    return it == queues_.end() ? nullptr : &it->second;
  }

  Result<std::vector<Seq>> append(const std::vector<core::AppendRequest>& batch) {
    for (const auto& request : batch) {
      if (!valid_name(request.queue)) return core::error(Code::kInvalidArgument, "bad name");
    }
    std::vector<Seq> seqs;
    for (const auto& request : batch) {
      ModelQueue& q = get_or_create(request.queue);
      Seq seq = q.next++;
      q.messages[seq] = {request.message, encode_record(request.message, std::nullopt).size()};
      ++q.appended;
      seqs.push_back(seq);
    }
    return seqs;
  }

  Result<core::ReadResult> read(const std::string& queue, const core::ReadRequest& req) const {
    const ModelQueue* q = find(queue);
    if (q == nullptr) return core::error(Code::kNotFound, "no queue");
    Seq start = req.from;
    if (start == 0) {
      // Reading from a missing cursor reads from the head; a read does not create the cursor
      // (reads are queries: they never change what queue_stats reports).
      auto cursor = q->cursors.find(req.cursor);
      start = cursor == q->cursors.end() ? q->head : cursor->second;
    }
    start = q->position(start);
    core::ReadResult result;
    Seq seq = start;
    std::size_t bytes = 0;
    for (; seq < q->next && result.messages.size() < req.max_messages; ++seq) {
      const ModelMessage& m = q->messages.at(seq);
      // At least one message, even one larger than max_bytes.
      if (!result.messages.empty() && bytes + m.stored_bytes > req.max_bytes) break;
      result.messages.push_back({seq, m.message, std::nullopt, m.stored_bytes});
      bytes += m.stored_bytes;
    }
    result.next = seq;
    return result;
  }

  Result<Seq> commit(const std::string& queue, const std::string& cursor, Seq upto) {
    if (!valid_name(cursor)) return core::error(Code::kInvalidArgument, "bad cursor name");
    auto it = queues_.find(queue);
    if (it == queues_.end()) return core::error(Code::kNotFound, "no queue");
    ModelQueue& q = it->second;
    if (upto >= q.next) return core::error(Code::kInvalidArgument, "not yet appended");
    auto c = q.cursors.find(cursor);
    Seq current = c == q.cursors.end() ? q.head : q.position(c->second);
    Seq position = std::max(current, upto + 1);
    q.cursors[cursor] = position;
    q.release();
    return position;
  }

  Result<Seq> create_cursor(const std::string& queue, const std::string& cursor) {
    if (!valid_name(queue) || !valid_name(cursor)) {
      return core::error(Code::kInvalidArgument, "bad name");
    }
    ModelQueue& q = get_or_create(queue);
    auto [it, created] = q.cursors.emplace(cursor, q.head);
    return q.position(it->second);
  }

  Result<void> delete_cursor(const std::string& queue, const std::string& cursor) {
    auto it = queues_.find(queue);
    if (it == queues_.end()) return core::error(Code::kNotFound, "no queue");
    if (it->second.cursors.erase(cursor) == 0) return core::error(Code::kNotFound, "no cursor");
    it->second.release();
    return {};
  }

  Result<std::uint64_t> purge(const std::string& queue) {
    auto it = queues_.find(queue);
    if (it == queues_.end()) return core::error(Code::kNotFound, "no queue");
    ModelQueue& q = it->second;
    std::uint64_t count = q.next - q.head;
    q.remove_below(q.next);
    return count;
  }

  Result<core::QueueStats> queue_stats(const std::string& queue) const {
    const ModelQueue* q = find(queue);
    if (q == nullptr) return core::error(Code::kNotFound, "no queue");
    return q->stats();
  }

  std::vector<core::QueueStats> list_queues() const {
    std::vector<core::QueueStats> all;
    for (const auto& [name, q] : queues_) all.push_back(q.stats());  // std::map: sorted by name
    return all;
  }

  std::uint64_t messages() const {
    std::uint64_t n = 0;
    for (const auto& [name, q] : queues_) n += q.next - q.head;
    return n;
  }
  std::uint64_t bytes() const {
    std::uint64_t n = 0;
    for (const auto& [name, q] : queues_) n += q.stats().bytes;
    return n;
  }

 private:
  ModelQueue& get_or_create(const std::string& name) {
    auto [it, created] = queues_.try_emplace(name);
    if (created) it->second.name = name;
    return it->second;
  }

  std::map<std::string, ModelQueue> queues_;
};

// --- Comparisons -------------------------------------------------------------------------

std::string cursor_list(const std::vector<core::CursorStats>& cursors) {
  std::string out;
  for (const auto& c : cursors)
    out += (out.empty() ? "" : ", ") + c.name + "@" + std::to_string(c.position);
  return "{" + out + "}";
}

void expect_stats_eq(const core::QueueStats& actual, const core::QueueStats& expected) {
  SCOPED_TRACE("queue stats of '" + expected.name.substr(0, 40) + "'");
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.head, expected.head);
  EXPECT_EQ(actual.next, expected.next);
  EXPECT_EQ(actual.depth, expected.depth);
  EXPECT_EQ(actual.bytes, expected.bytes);
  EXPECT_EQ(actual.oldest_received_at_ms, expected.oldest_received_at_ms);
  EXPECT_EQ(actual.appended, expected.appended);
  EXPECT_EQ(actual.removed, expected.removed);
  EXPECT_EQ(actual.dropped, 0u);
  EXPECT_EQ(actual.expired, 0u);
  EXPECT_EQ(actual.dead_lettered, 0u);
  EXPECT_EQ(cursor_list(actual.cursors), cursor_list(expected.cursors));
  EXPECT_EQ(actual.policy, core::QueuePolicy{});
}

void expect_read_eq(const core::ReadResult& actual, const core::ReadResult& expected) {
  EXPECT_EQ(actual.next, expected.next);
  ASSERT_EQ(actual.messages.size(), expected.messages.size());
  for (std::size_t i = 0; i < actual.messages.size(); ++i) {
    const core::StoredMessage& a = actual.messages[i];
    const core::StoredMessage& e = expected.messages[i];
    SCOPED_TRACE("message " + std::to_string(i) + " (seq " + std::to_string(e.seq) + ")");
    EXPECT_EQ(a.seq, e.seq);
    EXPECT_EQ(a.stored_bytes, e.stored_bytes);
    EXPECT_FALSE(a.dead_letter.has_value());
    // Field by field first, so a mismatch says which field differs.
    EXPECT_EQ(a.message.address, e.message.address);
    EXPECT_EQ(a.message.payload, e.message.payload);
    EXPECT_EQ(a.message.properties, e.message.properties);
    EXPECT_EQ(a.message.origin, e.message.origin);
    EXPECT_EQ(a.message.received_at_ms, e.message.received_at_ms);
    EXPECT_EQ(a.message.amqp_bare, e.message.amqp_bare);
    EXPECT_TRUE(a.message == e.message);
  }
}

// A read returns only durable records (QueueStore contract, "Visibility"): with operations in
// flight, it may stop before messages whose appends had not completed when it ran. It must be a
// prefix of what the model expects that holds at least every message below `durable_floor`
// (the queue's end when all earlier appends had completed).
void expect_read_prefix(const core::ReadResult& actual, const core::ReadResult& expected,
                        Seq durable_floor) {
  ASSERT_LE(actual.messages.size(), expected.messages.size()) << "read more than was appended";
  std::size_t required = 0;
  while (required < expected.messages.size() && expected.messages[required].seq < durable_floor) {
    ++required;
  }
  EXPECT_GE(actual.messages.size(), required) << "a read missed acknowledged messages";
  core::ReadResult head = expected;
  head.messages.resize(actual.messages.size());
  if (actual.messages.size() < expected.messages.size()) {
    head.next = expected.messages[actual.messages.size()].seq;
  }
  expect_read_eq(actual, head);
}

template <typename T, typename Eq>
void expect_result(const Result<T>& actual, const Result<T>& expected, Eq eq) {
  if (!expected) {
    ASSERT_FALSE(actual.has_value()) << "expected " << expected.error().to_string();
    EXPECT_EQ(actual.error().code(), expected.error().code()) << actual.error().to_string();
    return;
  }
  ASSERT_TRUE(actual.has_value()) << actual.error().to_string();
  if constexpr (!std::is_void_v<T>) eq(*actual, *expected);
}

}  // namespace holdfast::storage::model
