// holdfastctl status and holdfastctl queues (with --watch).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "broker/core/message.h"
#include "tools/ctl/commands.h"

namespace holdfast::ctl {
namespace {

std::uint64_t u64(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<std::uint64_t>() : 0;
}

std::int64_t i64(const json& j, const char* key) {
  return j.contains(key) && j[key].is_number() ? j[key].get<std::int64_t>() : 0;
}

std::string str(const json& j, const char* key) {
  return j.contains(key) && j[key].is_string() ? j[key].get<std::string>() : "";
}

void print_store_line(std::ostream& out, const json& store, bool read_only) {
  out << "store " << str(store, "path") << (read_only ? " (read directly)" : "") << ": "
      << count(u64(store, "queues"), "queue") << ", " << count(u64(store, "messages"), "message")
      << ", " << human_bytes(u64(store, "bytes")) << " (internal '$' queues included)";
  if (store.contains("free_bytes")) {
    out << "; " << human_bytes(u64(store, "free_bytes")) << " free on its disk";
  }
  out << "\n";
}

// What a queue's counters were at `at_ms`: rates come from two samples.
struct Sample {
  std::int64_t at_ms = 0;
  std::map<std::string, std::pair<std::uint64_t, std::uint64_t>> counters;  // appended, removed
};

Sample sample_of(const json& queues, std::int64_t at_ms) {
  Sample s{at_ms, {}};
  for (const auto& q : queues) s.counters[str(q, "name")] = {u64(q, "appended"), u64(q, "removed")};
  return s;
}

// Adds in_per_s / out_per_s to each queue that `before` knew.
void add_rates(json& queues, const Sample& before, std::int64_t now_ms) {
  double seconds = static_cast<double>(now_ms - before.at_ms) / 1000.0;
  if (seconds <= 0) return;
  for (auto& q : queues) {
    auto it = before.counters.find(str(q, "name"));
    if (it == before.counters.end()) continue;
    auto rate = [&](std::uint64_t now, std::uint64_t then) {
      return now >= then ? static_cast<double>(now - then) / seconds : 0.0;
    };
    q["in_per_s"] = rate(u64(q, "appended"), it->second.first);
    q["out_per_s"] = rate(u64(q, "removed"), it->second.second);
  }
}

std::string rate_cell(const json& q, const char* key) {
  if (!q.contains(key)) return "-";
  std::ostringstream out;
  double v = q[key].get<double>();
  out.setf(std::ios::fixed);
  out.precision(v < 10 ? 1 : 0);
  out << v;
  return out.str();
}

bool internal(const json& q) {
  return str(q, "name").starts_with("$");
}

// Sorted and filtered as asked; `hidden` counts the internal queues left out.
json select_queues(const json& all, const QueuesOptions& o, std::size_t& hidden) {
  json out = json::array();
  hidden = 0;
  for (const auto& q : all) {
    if (!o.all && internal(q)) {
      ++hidden;
      continue;
    }
    out.push_back(q);
  }
  auto key = [&](const json& q) -> std::uint64_t {
    if (o.sort == "depth") return u64(q, "depth");
    if (o.sort == "bytes") return u64(q, "bytes");
    if (o.sort == "age")
      return static_cast<std::uint64_t>(std::max<std::int64_t>(0, i64(q, "oldest_age_ms")));
    return 0;
  };
  std::stable_sort(out.begin(), out.end(), [&](const json& a, const json& b) {
    if (key(a) != key(b)) return key(a) > key(b);  // largest, oldest first
    return str(a, "name") < str(b, "name");
  });
  return out;
}

std::string cursors_cell(const json& q) {
  if (!q.contains("cursors") || !q["cursors"].is_object() || q["cursors"].empty()) return "-";
  std::string text;
  for (const auto& [name, position] : q["cursors"].items()) {
    if (!text.empty()) text += ",";
    text += safe(name) + "@" + position.dump();
  }
  return text;
}

void print_queue_table(std::ostream& out, const json& queues, std::size_t hidden,
                       const Source& source) {
  if (queues.empty()) {
    out << "no queues in " << source.describe() << "\n";
  } else {
    bool rates = !queues.empty() && queues[0].contains("in_per_s");
    std::vector<Table::Column> columns = {{"NAME"}, {"DEPTH", true}, {"BYTES", true},
                                          {"OLDEST", true}};
    if (rates) columns.insert(columns.end(), {{"IN/S", true}, {"OUT/S", true}});
    columns.insert(columns.end(), {{"APPENDED", true},
                                   {"REMOVED", true},
                                   {"DROPPED", true},
                                   {"EXPIRED", true},
                                   {"CURSORS"}});
    Table t(columns);
    for (const auto& q : queues) {
      std::vector<std::string> row = {
          safe(str(q, "name")), std::to_string(u64(q, "depth")), human_bytes(u64(q, "bytes")),
          u64(q, "depth") == 0 ? "-" : human_duration_ms(i64(q, "oldest_age_ms"))};
      if (rates) row.insert(row.end(), {rate_cell(q, "in_per_s"), rate_cell(q, "out_per_s")});
      row.insert(row.end(), {std::to_string(u64(q, "appended")), std::to_string(u64(q, "removed")),
                             std::to_string(u64(q, "dropped")), std::to_string(u64(q, "expired")),
                             cursors_cell(q)});
      t.add_row(row);
    }
    t.print(out);
  }
  if (hidden > 0) {
    out << "(" << hidden << " internal '$' queue" << (hidden == 1 ? "" : "s")
        << " of the broker not shown: --all shows them)\n";
  }
}

// One rendering of `queues`: the table, or a JSON array (one line per refresh when watching).
// With `before`, rates since then; `after` (if given) receives this sample.
Outcome<std::string> render_queues(Source& source, const Globals& g, const QueuesOptions& o,
                                   const Sample* before = nullptr, Sample* after = nullptr) {
  auto all = source.queues();
  if (!all) return std::unexpected(all.error());
  std::int64_t now = core::now_ms();
  std::size_t hidden = 0;
  json queues = select_queues(*all, o, hidden);
  if (before) add_rates(queues, *before, now);
  if (after) *after = sample_of(*all, now);
  std::ostringstream out;
  if (g.json) {
    out << (o.watch_seconds > 0 ? json_text(queues) : json_text(queues, 2)) << "\n";
  } else {
    print_queue_table(out, queues, hidden, source);
  }
  return out.str();
}

volatile sig_atomic_t g_interrupted = 0;

void on_interrupt(int) {
  g_interrupted = 1;
}

Outcome<void> watch_queues(Source& source, const Globals& g, const QueuesOptions& o) {
  struct sigaction action = {};
  action.sa_handler = on_interrupt;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  bool tty = isatty(STDOUT_FILENO) == 1;
  auto period = std::chrono::duration<double>(o.watch_seconds);
  std::optional<Sample> previous;
  while (!g_interrupted) {
    auto started = std::chrono::steady_clock::now();
    Sample now;
    auto frame = render_queues(source, g, o, previous ? &*previous : nullptr, &now);
    if (frame) previous = std::move(now);
    std::ostringstream out;
    if (tty) out << "\x1b[H\x1b[2J";  // home, clear: redraw in place
    if (!g.json) {
      out << "every " << o.watch_seconds << "s, Ctrl-C to stop: " << source.describe() << ", "
          << iso_time_ms(core::now_ms()) << "\n\n";
    }
    if (frame) {
      out << *frame;
    } else if (g.json) {
      out << json_text(json{{"error", frame.error().message}}) << "\n";
    } else {
      out << "holdfastctl: " << frame.error().message << "\n";
    }
    if (!tty && !g.json) out << "\n";
    std::cout << out.str() << std::flush;
    while (!g_interrupted && std::chrono::steady_clock::now() - started < period) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return {};
}

}  // namespace

Outcome<json> find_queue(Source& source, const std::string& queue) {
  auto all = source.queues();
  if (!all) return std::unexpected(all.error());
  for (const auto& q : *all) {
    if (str(q, "name") == queue) return q;
  }
  return fail(kExitNotFound, "no queue '" + queue + "' in " + source.describe() +
                                 "; `holdfastctl queues --all` lists every queue");
}

Outcome<void> run_status(const Globals& g) {
  auto source = open_source(g.target);
  if (!source) return std::unexpected(source.error());
  auto status = (*source)->status();
  if (!status) return std::unexpected(status.error());
  json& s = *status;
  bool daemon = (*source)->is_daemon();
  if (g.json) {
    s["daemon_running"] = daemon;
    s["admin"] = g.target.admin_url;
    std::cout << json_text(s, 2) << "\n";
    return {};
  }
  if (!daemon) {
    std::cout << "holdfastd: daemon not running (nothing answers on " << g.target.admin_url
              << ")\n";
    print_store_line(std::cout, s["store"], true);
    return {};
  }
  std::cout << "holdfastd " << str(s, "version") << " at " << g.target.admin_url << ": "
            << (s.value("ready", false) ? "ready" : "NOT READY (starting or shutting down)")
            << ", up " << human_duration_ms(i64(s, "uptime_seconds") * 1000) << "\n";
  const json& listeners = s.contains("listeners") ? s["listeners"] : json::array();
  std::cout << "listeners:" << (listeners.empty() ? " none\n" : "\n");
  for (const auto& l : listeners) {
    std::uint64_t n = u64(l, "connections");
    std::cout << "  " << str(l, "protocol") << " on " << str(l, "bind") << ":" << u64(l, "port")
              << ": " << count(n, "connection") << "\n";
  }
  const json& upstreams = s.contains("upstreams") ? s["upstreams"] : json::array();
  std::cout << "upstreams:" << (upstreams.empty() ? " none (no route names one)\n" : "\n");
  for (const auto& u : upstreams) {
    std::cout << "  " << str(u, "name") << ": "
              << (u.value("connected", false) ? "connected" : "NOT CONNECTED (retrying)") << ", "
              << (u.value("paused", false) ? "PAUSED (holdfastctl bridge resume), " : "")
              << count(u64(u, "forwarded"), "message") << " forwarded, " << u64(u, "refused")
              << " refused, " << u64(u, "dead_lettered") << " dead-lettered\n";
  }
  if (s.contains("store")) print_store_line(std::cout, s["store"], false);
  return {};
}

Outcome<void> run_queues(const Globals& g, const QueuesOptions& o) {
  auto source = open_source(g.target);
  if (!source) return std::unexpected(source.error());
  if (o.watch_seconds > 0) return watch_queues(**source, g, o);
  std::optional<Sample> before;
  if (o.rate_seconds > 0) {
    auto first = (*source)->queues();
    if (!first) return std::unexpected(first.error());
    before = sample_of(*first, core::now_ms());
    std::this_thread::sleep_for(std::chrono::duration<double>(o.rate_seconds));
  }
  auto frame = render_queues(**source, g, o, before ? &*before : nullptr);
  if (!frame) return std::unexpected(frame.error());
  std::cout << *frame;
  return {};
}

}  // namespace holdfast::ctl
