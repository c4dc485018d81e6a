#include "broker/admin/queue_ops.h"

#include <map>

#include "broker/admin/message_json.h"

namespace holdfast::broker {
namespace {

using nlohmann::json;

constexpr std::size_t kReplayBatch = 500;
constexpr std::size_t kReadBytes = 4 << 20;

core::Result<core::ReadResult> read(core::QueueStore& store, const std::string& queue,
                                    std::size_t max) {
  core::ReadRequest r;
  r.max_messages = max;
  r.max_bytes = kReadBytes;
  return core::call_sync<core::ReadResult>(
      [&](auto done) { store.read(queue, r, std::move(done)); });
}

// "upstream hub: amqp:unauthorized-access: device x is not allowed" -> "upstream hub:
// amqp:unauthorized-access": the detail varies per message, the condition does not.
std::string reason_class(const std::string& reason) {
  auto first = reason.find(": ");
  if (first == std::string::npos) return reason;
  auto second = reason.find(": ", first + 2);
  if (!reason.starts_with("upstream ")) second = first;
  return second == std::string::npos ? reason : reason.substr(0, second);
}

}  // namespace

core::Result<json> import_lines(core::QueueStore& store, const std::string& queue,
                                std::string_view lines, std::size_t first_line) {
  std::vector<core::AppendRequest> batch;
  std::size_t line_no = first_line;
  while (!lines.empty()) {
    auto end = lines.find('\n');
    std::string_view line = lines.substr(0, end);
    lines = end == std::string_view::npos ? std::string_view() : lines.substr(end + 1);
    std::size_t this_line = line_no++;
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto where = "line " + std::to_string(this_line) + ": ";
    if (j.is_discarded()) {
      return core::error(core::Code::kInvalidArgument, where + "not JSON");
    }
    auto request = append_from_json(j, queue);
    if (!request) return core::error(request.error().code(), where + request.error().message());
    batch.push_back(std::move(*request));
  }
  std::size_t n = batch.size();
  json out = {{"queue", queue}, {"imported", n}, {"first_seq", 0}, {"last_seq", 0}};
  if (n == 0) return out;
  auto seqs = core::call_sync<std::vector<core::Seq>>(
      [&](auto done) { store.append(std::move(batch), std::move(done)); });
  if (!seqs) return core::error(seqs.error());
  out["first_seq"] = seqs->front();
  out["last_seq"] = seqs->back();
  return out;
}

core::Result<json> dead_letters_json(core::QueueStore& store, std::int64_t now_ms,
                                     std::size_t sample) {
  auto queues = core::call_sync<std::vector<core::QueueStats>>(
      [&](auto done) { store.list_queues(std::move(done)); });
  if (!queues) return core::error(queues.error());
  json out = json::array();
  for (const auto& q : *queues) {
    bool named = q.name.starts_with("deadletter/");
    if (q.depth == 0) continue;
    auto head = read(store, q.name, named ? sample : 1);
    if (!head) {
      if (head.error().code() == core::Code::kNotFound) continue;  // removed meanwhile
      return core::error(head.error());
    }
    if (!named && (head->messages.empty() || !head->messages[0].dead_letter)) continue;
    if (!named) head = read(store, q.name, sample);
    if (!head) return core::error(head.error());
    std::map<std::string, std::uint64_t> reasons, originals;
    for (const auto& m : head->messages) {
      ++reasons[m.dead_letter ? reason_class(m.dead_letter->reason) : "(no record)"];
      if (m.dead_letter) ++originals[m.dead_letter->original_queue];
    }
    json entry = queue_json(q, now_ms);
    out.push_back({{"queue", q.name},
                   {"count", q.depth},
                   {"bytes", q.bytes},
                   {"oldest_age_ms", entry["oldest_age_ms"]},
                   {"reasons", reasons},
                   {"original_queues", originals},
                   {"sampled", head->messages.size()}});
  }
  return out;
}

core::Result<json> replay_dead_letters(core::QueueStore& store, const std::string& dlq,
                                       const std::string& to, std::size_t max) {
  auto stats = core::call_sync<core::QueueStats>(
      [&](auto done) { store.queue_stats(dlq, std::move(done)); });
  if (!stats) return core::error(stats.error());
  json out = {{"queue", dlq},
              {"replayed", 0},
              {"remaining", stats->depth},
              {"last_seq", 0},
              {"to", json::object()}};
  if (max == 0 || stats->depth == 0) return out;
  auto page = read(store, dlq, std::min(max, kReplayBatch));
  if (!page) return core::error(page.error());
  if (page->messages.empty()) return out;
  std::vector<core::AppendRequest> batch;
  for (auto& m : page->messages) {
    core::AppendRequest a;
    a.queue = !to.empty() ? to : m.dead_letter ? m.dead_letter->original_queue : "";
    if (a.queue.empty()) {
      return core::error(core::Code::kInvalidArgument,
                         "message #" + std::to_string(m.seq) + " of '" + dlq +
                             "' has no dead-letter record naming its original queue");
    }
    a.message = std::move(m.message);
    batch.push_back(std::move(a));
  }
  // Checked after the targets: a queue that is no dead-letter queue is named as such first.
  for (const auto& c : stats->cursors) {
    if (c.name != kReplayCursor) {
      return core::error(core::Code::kUnsupported,
                         "queue '" + dlq + "' has a consumer (cursor '" + c.name +
                             "'), so replayed messages could not be removed from it");
    }
  }
  core::Seq last = page->messages.back().seq;
  std::vector<std::string> targets;
  for (const auto& a : batch) targets.push_back(a.queue);
  // Append first and wait until it is durable; only then remove from the dead-letter queue.
  auto seqs = core::call_sync<std::vector<core::Seq>>(
      [&](auto done) { store.append(std::move(batch), std::move(done)); });
  if (!seqs) return core::error(seqs.error());
  std::string cursor(kReplayCursor);
  auto committed = core::call_sync<core::Seq>(
      [&](auto done) { store.commit(dlq, cursor, last, std::move(done)); });
  if (!committed) return core::error(committed.error());
  auto deleted =
      core::call_sync<void>([&](auto done) { store.delete_cursor(dlq, cursor, std::move(done)); });
  if (!deleted) return core::error(deleted.error());
  for (std::size_t i = 0; i < targets.size(); ++i) {
    json& t = out["to"][targets[i]];
    if (t.is_null()) t = {{"count", 0}};
    t["count"] = t["count"].get<std::uint64_t>() + 1;
    t["last_seq"] = (*seqs)[i];
  }
  out["replayed"] = targets.size();
  out["last_seq"] = last;
  out["remaining"] = stats->depth > targets.size() ? stats->depth - targets.size() : 0;
  return out;
}

}  // namespace holdfast::broker
