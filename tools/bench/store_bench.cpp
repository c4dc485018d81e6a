#include "tools/bench/store_bench.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "broker/core/queue_store.h"
#include "storage/options.h"
#include "storage/rocks_queue_store.h"
#include "tools/bench/bench_util.h"
#include "tools/bench/store_bench_parts.h"

namespace holdfast::bench {
namespace {

using namespace store_parts;  // NOLINT: this file is one of the store benchmark's parts

// ---------------------------------------------------------------------------------------------
// Phase 1: group commit vs one synced write per message.

struct AppendFigures {
  std::string label;
  std::uint64_t messages = 0;
  std::uint64_t failed = 0;
  double seconds = 0;
  double per_second = 0;
  double fsyncs_per_message = 0;
  double avg_batch = 0;
  std::uint64_t max_batch = 0;
  double write_micros_per_batch = 0;
  std::uint64_t p50_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

std::optional<AppendFigures> append_run(const StoreBenchOptions& o, const fs::path& dir,
                                        const std::string& label, std::size_t max_batch) {
  if (!remove_store_dir(dir)) return std::nullopt;
  storage::StoreOptions options;
  options.path = dir.string();
  options.max_batch_messages = max_batch;  // the rest: defaults (sync = fsync)
  auto store = open_store(options);
  if (!store) return std::nullopt;

  AppendLoad load;
  load.producers = o.producers;
  load.inflight = o.inflight;
  load.messages = o.append_messages;
  load.duration =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.append_seconds));
  load.queues = queue_names(o.queues);
  load.payload_bytes = o.payload_bytes;
  load.devices = o.devices;
  load.seed = max_batch;
  load.progress = true;
  std::printf("%s: %u producers x %u in flight, one message per append, %s ...\n", label.c_str(),
              o.producers, o.inflight,
              o.append_messages != 0 ? (format_count(o.append_messages) + " messages").c_str()
                                     : strprintf("%.0f s", o.append_seconds).c_str());
  std::fflush(stdout);
  AppendResult r = run_appends(*store, load);
  auto stats = store_stats(*store);
  store.reset();
  if (!stats) return std::nullopt;
  if (r.failed != 0) {
    std::printf("  %s appends FAILED, first error: %s\n", format_count(r.failed).c_str(),
                r.first_error.c_str());
  }

  AppendFigures f;
  f.label = label;
  f.messages = r.completed;
  f.failed = r.failed;
  f.seconds = r.seconds;
  f.per_second = r.seconds > 0 ? r.completed / r.seconds : 0;
  f.fsyncs_per_message =
      stats->appended_messages ? double(stats->synced_batches) / stats->appended_messages : 0;
  f.avg_batch =
      stats->synced_batches ? double(stats->appended_messages) / stats->synced_batches : 0;
  f.max_batch = stats->max_batch_messages;
  f.write_micros_per_batch =
      stats->write_batches ? double(stats->total_write_micros) / stats->write_batches : 0;
  f.p50_us = r.latency_us.percentile(0.50);
  f.p99_us = r.latency_us.percentile(0.99);
  f.p999_us = r.latency_us.percentile(0.999);
  f.max_us = r.latency_us.max();
  std::printf(
      "  %s messages in %.2f s = %.0f appends/s; %s synced writes (%.4f fsyncs/message, "
      "avg %.1f, max %s messages per write, %.0f us per write)\n"
      "  append latency: p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms\n",
      format_count(f.messages).c_str(), f.seconds, f.per_second,
      format_count(stats->synced_batches).c_str(), f.fsyncs_per_message, f.avg_batch,
      format_count(f.max_batch).c_str(), f.write_micros_per_batch, f.p50_us / 1e3, f.p99_us / 1e3,
      f.p999_us / 1e3, f.max_us / 1e3);
  std::fflush(stdout);
  if (!o.keep) remove_store_dir(dir);
  return f;
}

// ---------------------------------------------------------------------------------------------
// The whole benchmark and its summary.

std::string ms(double v) {
  return strprintf("%.2f ms", v);
}

std::string versus(double measured, double target) {
  return target > 0 ? strprintf("%.2f", measured / target) : "-";
}

std::string verdict(double measured, double target) {
  return measured <= target ? "meets" : "misses";
}

int run_store(StoreBenchOptions o) {
  auto wanted = [&](std::string_view phase) {
    return std::find(o.phases.begin(), o.phases.end(), phase) != o.phases.end();
  };
  for (const auto& p : o.phases) {
    if (p != "append" && p != "drain" && p != "reopen") {
      std::fprintf(stderr, "holdfast-bench: unknown phase '%s' (append, drain, reopen)\n",
                   p.c_str());
      return 2;
    }
  }
  if (o.producers == 0 || o.inflight == 0 || o.fill_batch == 0 || o.queues == 0 ||
      o.fill_queues == 0) {
    std::fprintf(stderr, "holdfast-bench: counts must be at least 1\n");
    return 2;
  }

  std::error_code ec;
  fs::path base;
  bool made_base = false;
  if (o.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "holdfast-bench-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("holdfast-bench: mkdtemp");
      return 1;
    }
    base = tmpl;
    made_base = true;
  } else {
    base = o.dir;
    made_base = !fs::exists(base, ec);
    fs::create_directories(base, ec);
    if (ec) {
      std::fprintf(stderr, "holdfast-bench: cannot create %s: %s\n", base.c_str(),
                   ec.message().c_str());
      return 1;
    }
  }
  std::printf("holdfast-bench store: stores under %s%s; payload %zu bytes, %u devices\n",
              base.c_str(), o.keep ? " (kept)" : "", o.payload_bytes, o.devices);
  std::fflush(stdout);

  std::optional<AppendFigures> group, single;
  std::optional<DrainFigures> drain;
  std::optional<ReopenFigures> reopen;
  bool failed = false;
  if (wanted("append")) {
    group = append_run(o, base / "group-commit", "group commit",
                       storage::StoreOptions{}.max_batch_messages);
    single = append_run(o, base / "one-sync", "one sync per message (max_batch_messages = 1)", 1);
    failed |= !group || !single;
  }
  if (wanted("drain")) {
    drain = drain_run(o, base / "drain");
    failed |= !drain;
  }
  if (wanted("reopen")) {
    reopen = reopen_run(o, base / "filled");
    failed |= !reopen;
  }

  std::printf("\nSummary\n");
  Table table({"figure", "measured", "target", "measured/target", ""});
  if (group && single) {
    for (const auto* f : {&*group, &*single}) {
      std::string name = f == &*group ? "group commit" : "one sync/message";
      table.add({name + ": durable appends/s", strprintf("%.0f", f->per_second), "", "", ""});
      table.add(
          {name + ": fsyncs per message", strprintf("%.4f", f->fsyncs_per_message), "", "", ""});
      table.add(
          {name + ": messages per write (avg/max)",
           strprintf("%.1f / %llu", f->avg_batch, static_cast<unsigned long long>(f->max_batch)),
           "", "", ""});
      table.add({name + ": append latency p50 / p99",
                 strprintf("%.2f / %.2f ms", f->p50_us / 1e3, f->p99_us / 1e3), "", "", ""});
    }
    table.add(
        {"group commit speed-up (appends/s ratio)",
         strprintf("%.1fx", single->per_second > 0 ? group->per_second / single->per_second : 0.0),
         "", "", ""});
  }
  if (drain) {
    table.add({"drain: bytes written per payload byte", strprintf("%.2f", drain->per_payload_byte),
               "<= 1.5", versus(drain->per_payload_byte, 1.5),
               verdict(drain->per_payload_byte, 1.5)});
    table.add({"drain: bytes written per record byte", strprintf("%.2f", drain->per_record_byte),
               "", "", ""});
    table.add({"drain: store size after close",
               format_bytes(double(drain->final_usage.allocated_bytes)), "", "", ""});
  }
  if (reopen) {
    const std::string held = format_count(reopen->messages) + " msgs";
    for (const auto& s : reopen->samples) {
      table.add({s.label + ": ready, " + held, ms(s.ready_ms), "<= 1000 ms",
                 versus(s.ready_ms, 1000), verdict(s.ready_ms, 1000)});
      double mib = s.hwm_kb / 1024.0;
      table.add({s.label + ": peak RSS", strprintf("%.1f MiB", mib), "<= 64 MiB", versus(mib, 64),
                 verdict(mib, 64)});
    }
    table.add(
        {"filled store size", format_bytes(double(reopen->usage.allocated_bytes)), "", "", ""});
  }
  table.print(stdout);
  std::fflush(stdout);

  if (!o.keep) {
    for (const char* sub : {"group-commit", "one-sync", "drain", "filled"}) {
      remove_store_dir(base / sub);
    }
    if (made_base) fs::remove(base, ec);  // only if now empty
  } else {
    std::printf("stores kept under %s\n", base.c_str());
  }
  return failed ? 1 : 0;
}

}  // namespace

void add_store_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<StoreBenchOptions>();
  StoreBenchOptions& o = *options;
  CLI::App* store = app.add_subcommand(
      "store",
      "Benchmark the RocksDB queue store: (append) durable appends/s with group commit vs one "
      "synced write per message, fsyncs per message, batch size and append latency; (drain) bytes "
      "written to disk per payload byte while a consumer reads and commits as producers append; "
      "(reopen) reopen-to-ready time and peak RSS of a store holding --fill-messages messages, in "
      "a fresh child process. Prints figures and a summary against the targets; asserts "
      "nothing.");
  auto option = [store](const char* name, auto& value, const char* help) {
    return store->add_option(name, value, help)->capture_default_str();
  };
  option("--producers", o.producers, "producer threads appending (append and drain phases)");
  option("--inflight", o.inflight,
         "appends each producer keeps in flight (each append is one message)");
  option("--append-seconds", o.append_seconds,
         "duration of each append run (group commit, then one sync per message)");
  option("--append-messages", o.append_messages,
         "if non-zero, each append run stops after this many messages instead of after "
         "--append-seconds");
  option("--payload-bytes", o.payload_bytes, "payload size of every message (random bytes)");
  option("--devices", o.devices, "distinct devices; addresses are devices/devNNNN/messages/events");
  option("--queues", o.queues,
         "queues the append and drain phases spread messages over (upstream/NNN)");
  option("--drain-messages", o.drain_messages, "messages appended and consumed in the drain phase");
  option("--read-batch", o.read_batch, "most messages the drain consumer reads per read call");
  option("--fill-messages", o.fill_messages,
         "messages the reopen phase's store holds (filled with sync os; a store already holding "
         "them is reused, one holding fewer is topped up)");
  option("--fill-queues", o.fill_queues, "queues the fill spreads messages over");
  option("--fill-batch", o.fill_batch, "messages per append call during the fill");
  option("--dir", o.dir,
         "directory for the stores (group-commit/, one-sync/, drain/, filled/); default: a new "
         "/tmp/holdfast-bench-XXXXXX. Reuse it with --keep to skip the fill next time");
  store->add_flag("--keep", o.keep,
                  "keep the stores at the end (default: removed); needed to reuse the filled "
                  "store with --dir");
  store->add_flag("--cold,!--warm", o.cold,
                  "drop the filled store from the page cache (posix_fadvise) before the first "
                  "reopen; --warm skips that (default: --cold)");
  option("--phases", o.phases, "phases to run, comma-separated: any of append, drain, reopen")
      ->delimiter(',');
  store->callback([options, &exit_code] { exit_code = run_store(*options); });

  auto path = std::make_shared<std::string>();
  CLI::App* reopen = app.add_subcommand(
      "store-reopen", "internal: open the store at PATH, answer store_stats, print key=value");
  reopen->group("");  // hidden
  reopen->add_option("path", *path, "store directory")->required();
  reopen->callback([path, &exit_code] { exit_code = run_store_reopen(*path); });
}

}  // namespace holdfast::bench
