// holdfastctl deadletters and holdfastctl replay: what was refused for good, and moving it back.
#include <algorithm>
#include <iostream>

#include "tools/ctl/commands.h"
#include "tools/ctl/progress.h"

namespace holdfast::ctl {
namespace {

// "a (3), b (1)" from {name: count}, largest first, at most `limit` entries.
std::string counts_cell(const json& counts, std::size_t limit = 3) {
  if (!counts.is_object() || counts.empty()) return "-";
  std::vector<std::pair<std::uint64_t, std::string>> sorted;
  for (const auto& [name, n] : counts.items()) sorted.emplace_back(n.get<std::uint64_t>(), name);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const auto& a, const auto& b) { return a.first > b.first; });
  std::string text;
  for (std::size_t i = 0; i < sorted.size() && i < limit; ++i) {
    text += (i ? ", " : "") + safe(sorted[i].second) + " (" + std::to_string(sorted[i].first) + ")";
  }
  if (sorted.size() > limit) text += ", +" + std::to_string(sorted.size() - limit) + " more";
  return text;
}

}  // namespace

Outcome<void> run_deadletters(const Globals& g) {
  auto source = open_source(g.target);
  if (!source) return std::unexpected(source.error());
  auto list = (*source)->deadletters();
  if (!list) return std::unexpected(list.error());
  if (g.json) {
    std::cout << json_text(*list, 2) << "\n";
    return {};
  }
  if (list->empty()) {
    std::cout << "no dead letters in " << (*source)->describe() << "\n";
    return {};
  }
  Table t({{"QUEUE"}, {"COUNT", true}, {"BYTES", true}, {"OLDEST", true}, {"FROM"}, {"REASONS"}});
  bool sampled = false;
  for (const auto& q : *list) {
    std::uint64_t n = q.value("count", 0ULL);
    sampled = sampled || q.value("sampled", 0ULL) < n;
    t.add_row({safe(q.value("queue", "")), std::to_string(n), human_bytes(q.value("bytes", 0ULL)),
               n == 0 ? "-" : human_duration_ms(q.value("oldest_age_ms", 0LL)),
               counts_cell(q["original_queues"]), counts_cell(q["reasons"])});
  }
  t.print(std::cout);
  if (sampled) {
    std::cout << "(reasons and origins of large queues are counted over their oldest messages "
                 "only: at most 1000, see \"sampled\" in --json)\n";
  }
  std::cout << "replay one with: holdfastctl replay QUEUE [--max N] [--to QUEUE]\n";
  return {};
}

Outcome<void> run_replay(const Globals& g, const ReplayOptions& o) {
  if (auto ok = can_ask(o.yes, "replay", o.queue); !ok) return ok;
  auto source = open_writable(g.target, "replay");
  if (!source) return std::unexpected(source.error());
  auto queue = find_queue(**source, o.queue);
  if (!queue) return std::unexpected(queue.error());
  // A snapshot: what is there now, so a queue that refills while the upstream still refuses
  // does not keep a replay going.
  std::uint64_t depth = queue->value("depth", 0ULL);
  std::uint64_t wanted = o.max == 0 ? depth : std::min<std::uint64_t>(o.max, depth);
  if (!o.yes && wanted > 0) {
    std::cerr << "Replay " << count(wanted, "message") << " of '" << safe(o.queue) << "' in "
              << (*source)->describe() << " to "
              << (o.to.empty() ? "the queues they came from" : "queue '" + safe(o.to) + "'")
              << ": each is appended there (at the end; the bridge sends it again) and then "
                 "removed from '"
              << safe(o.queue) << "'.\n";
    if (auto ok = confirm_by_typing("replayed", o.queue); !ok) return ok;
  }
  Progress progress("replaying " + safe(o.queue), wanted);
  std::uint64_t replayed = 0, remaining = depth;
  json to = json::object();
  while (replayed < wanted) {
    auto r = (*source)->replay(o.queue, o.to, wanted - replayed);
    if (!r) {
      if (replayed > 0) {
        r.error().message += " (" + std::to_string(replayed) + " messages were replayed before)";
      }
      return std::unexpected(r.error());
    }
    std::uint64_t n = r->value("replayed", 0ULL);
    remaining = r->value("remaining", 0ULL);
    for (const auto& [target, moved] : (*r)["to"].items()) {
      to[target] = to.value(target, 0ULL) + moved.value("count", 0ULL);
    }
    if (n == 0) break;  // emptied meanwhile (another replay, a purge)
    replayed += n;
    progress.update(replayed, 0);
  }
  progress.update(replayed, 0, true);
  if (g.json) {
    json summary = {{"queue", o.queue},
                    {"replayed", replayed},
                    {"remaining", remaining},
                    {"to", to},
                    {"in", (*source)->describe()}};
    std::cout << json_text(summary, 2) << "\n";
    return {};
  }
  std::cout << "replayed " << count(replayed, "message") << " of '" << safe(o.queue) << "'";
  std::string targets;
  for (const auto& [target, n] : to.items()) {
    targets += (targets.empty() ? "" : ", ") + n.dump() + " to " + safe(target);
  }
  if (!targets.empty()) std::cout << ": " << targets;
  std::cout << "; " << remaining << " left there\n";
  return {};
}

}  // namespace holdfast::ctl
