#include "tools/bench/mqtt_bench.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/bench/bench_util.h"
#include "tools/bench/mqtt_load.h"

namespace holdfast::bench {
namespace {

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

void merge(MqttLoadResult& into, const MqttLoadResult& r) {
  into.published += r.published;
  into.acked += r.acked;
  into.received += r.received;
  into.ack_us.merge(r.ack_us);
  into.e2e_us.merge(r.e2e_us);
  into.last_ack_ns = std::max(into.last_ack_ns, r.last_ack_ns);
  into.last_receive_ns = std::max(into.last_receive_ns, r.last_receive_ns);
  into.stopped_ns = std::max(into.stopped_ns, r.stopped_ns);
  into.published_total += r.published_total;
  into.acked_total += r.acked_total;
  into.received_total += r.received_total;
  into.failed += r.failed;
  into.lost += r.lost;
  into.not_ready += r.not_ready;
  into.min_acked = std::min(into.min_acked, r.min_acked);
  into.max_acked = std::max(into.max_acked, r.max_acked);
  into.cpu_seconds += r.cpu_seconds;
  into.drained = into.drained && r.drained;
  if (into.first_error[0] == '\0') {
    std::copy(std::begin(r.first_error), std::end(r.first_error), std::begin(into.first_error));
  }
}

// Runs the load in `o.processes` worker processes (each with its own Paho threads) started
// together; returns the merged result and the common start time.
MqttLoadResult run_workers(const MqttLoadOptions& o, std::int64_t& start, bool& ok) {
  struct Worker {
    pid_t pid = -1;
    int up = -1;    // worker -> parent: 'R'/'F' once connected, then its MqttLoadResult
    int down = -1;  // parent -> worker: the start time (0: abort)
  };
  std::vector<Worker> workers;
  std::fflush(stdout);
  std::fflush(stderr);
  ok = true;
  for (unsigned k = 0; k < o.processes; ++k) {
    int up[2], down[2];
    if (::pipe2(up, O_CLOEXEC) != 0 || ::pipe2(down, O_CLOEXEC) != 0) {
      std::perror("holdfast-bench mqtt: pipe");
      ok = false;
      break;
    }
    pid_t pid = ::fork();
    if (pid == 0) {
      for (const Worker& w : workers) ::close(w.up), ::close(w.down);
      ::close(up[0]);
      ::close(down[1]);
      auto ready = [&](bool connected) -> std::int64_t {
        char c = connected ? 'R' : 'F';
        std::int64_t t = 0;
        if (!write_all(up[1], &c, 1) || !read_all(down[0], &t, sizeof t)) return 0;
        return t;
      };
      MqttLoadResult r = run_mqtt_load(o, k, o.processes, ready);
      std::fflush(stdout);
      _exit(write_all(up[1], &r, sizeof r) ? 0 : 1);
    }
    ::close(up[1]);
    ::close(down[0]);
    if (pid < 0) {
      std::perror("holdfast-bench mqtt: fork");
      ::close(up[0]);
      ::close(down[1]);
      ok = false;
      break;
    }
    workers.push_back({pid, up[0], down[1]});
  }
  for (const Worker& w : workers) {
    char c = 'F';
    ok = read_all(w.up, &c, 1) && c == 'R' && ok;
  }
  start = ok ? mqtt_now_ns() + 20'000'000 : 0;  // 20 ms for every worker to get the word
  for (const Worker& w : workers) write_all(w.down, &start, sizeof start);
  MqttLoadResult merged;
  merged.min_acked = ~0ull;
  for (const Worker& w : workers) {
    auto r = std::make_unique<MqttLoadResult>();
    if (read_all(w.up, r.get(), sizeof *r)) {
      merge(merged, *r);
    } else {
      ok = false;
    }
    ::close(w.up);
    ::close(w.down);
    int status = 0;
    ::waitpid(w.pid, &status, 0);
  }
  if (merged.min_acked == ~0ull) merged.min_acked = 0;
  return merged;
}

std::string ms(std::uint64_t us) { return strprintf("%.2f", us / 1e3); }

std::string percentiles(const LatencyHistogram& h) {
  return ms(h.percentile(0.5)) + " / " + ms(h.percentile(0.99)) + " / " +
         ms(h.percentile(0.999)) + " / " + ms(h.max());
}

int run_mqtt(MqttLoadOptions o) {
  if (o.publishers == 0 || o.inflight == 0 || o.inflight > 65535 || o.qos < 0 || o.qos > 2 ||
      o.port == 0 || o.port > 65535 || o.processes == 0 || o.processes > o.publishers) {
    std::fprintf(stderr,
                 "holdfast-bench mqtt: need --publishers >= 1, --qos 0..2, --inflight 1..65535, "
                 "--processes 1..publishers and a port\n");
    return 2;
  }
  if (o.client_id_prefix.empty()) {
    o.client_id_prefix = strprintf("hfbench-%ld", static_cast<long>(::getpid()));
  }
  const bool by_count = o.messages != 0;
  std::printf(
      "holdfast-bench mqtt [%s]: tcp://%s:%u, %u publishers x %u in flight, %u subscribers, "
      "QoS %d, %zu-byte payloads, %s, %u process%s\n",
      o.label.c_str(), o.host.c_str(), o.port, o.publishers, o.inflight, o.subscribers, o.qos,
      o.payload_bytes,
      by_count ? (format_count(o.messages) + " messages").c_str()
               : strprintf("%g s after %g s warm-up", o.seconds, o.warmup_seconds).c_str(),
      o.processes, o.processes == 1 ? "" : "es");
  std::fflush(stdout);

  std::int64_t start = 0;
  bool ok = true;
  MqttLoadResult f;
  if (o.processes == 1) {
    f = run_mqtt_load(o, 0, 1, [&](bool connected) {
      start = connected ? mqtt_now_ns() : 0;
      return start;
    });
    ok = start != 0;
  } else {
    f = run_workers(o, start, ok);
  }
  if (!ok || f.not_ready != 0) {
    std::fprintf(stderr, "holdfast-bench mqtt: %llu clients could not connect; no load run\n",
                 static_cast<unsigned long long>(f.not_ready));
    return 1;
  }

  // Rates: over the measured window, or with --messages from the start to the last
  // acknowledgement / delivery.
  const double window_s = by_count ? (f.stopped_ns - start) / 1e9 : o.seconds;
  const double ack_s = by_count ? std::max<std::int64_t>(f.last_ack_ns - start, 1) / 1e9 : o.seconds;
  const double recv_s =
      by_count ? std::max<std::int64_t>(f.last_receive_ns - start, 1) / 1e9 : o.seconds;
  const double published_rate = f.published / window_s;
  const double acked_rate = f.acked / ack_s;
  const double received_rate = o.subscribers ? f.received / recv_s : 0;
  const double cpu_pct = 100.0 * f.cpu_seconds / window_s;
  const char* ack_name = o.qos == 0 ? "written" : o.qos == 1 ? "PUBACK" : "PUBCOMP";

  std::printf("\nSummary [%s]\n", o.label.c_str());
  Table t({"figure", "value"});
  t.add({"published msgs/s", strprintf("%.0f", published_rate)});
  t.add({strprintf("acknowledged msgs/s (%s)", ack_name), strprintf("%.0f", acked_rate)});
  if (o.subscribers) {
    t.add({strprintf("received msgs/s (all %u subscribers)", o.subscribers),
           strprintf("%.0f", received_rate)});
    t.add({"received msgs/s per subscriber", strprintf("%.0f", received_rate / o.subscribers)});
  }
  t.add({strprintf("publish -> %s latency p50 / p99 / p99.9 / max (ms)", ack_name),
         percentiles(f.ack_us)});
  if (o.subscribers) {
    t.add({"publish -> subscriber latency p50 / p99 / p99.9 / max (ms)", percentiles(f.e2e_us)});
  }
  t.add({"messages published / acknowledged / received (whole run)",
         format_count(f.published_total) + " / " + format_count(f.acked_total) + " / " +
             format_count(f.received_total)});
  t.add({"acknowledged per publisher (min / max)",
         format_count(f.min_acked) + " / " + format_count(f.max_acked)});
  t.add({"failed publishes / lost connections",
         format_count(f.failed) + " / " + format_count(f.lost)});
  t.add({"holdfast-bench CPU (% of one core, measured window)", strprintf("%.0f%%", cpu_pct)});
  t.print(stdout);
  if (!f.drained) std::printf("  (acknowledgements still missing after --drain-timeout)\n");
  if (cpu_pct / o.processes >= 80) {
    std::printf(
        "  note: holdfast-bench used %.0f%% of a core per process: the client may be what limits "
        "the rate (Paho serializes a process's clients); compare with --processes %u\n",
        cpu_pct / o.processes, o.processes + 1);
  }
  if (f.first_error[0] != '\0') std::printf("  first error: %s\n", f.first_error);
  if (o.kv) {
    std::printf(
        "result.published_per_s=%.1f\nresult.acked_per_s=%.1f\nresult.received_per_s=%.1f\n"
        "result.ack_p50_ms=%.3f\nresult.ack_p99_ms=%.3f\nresult.ack_p999_ms=%.3f\n"
        "result.ack_max_ms=%.3f\nresult.e2e_p50_ms=%.3f\nresult.e2e_p99_ms=%.3f\n"
        "result.e2e_max_ms=%.3f\nresult.failed=%llu\nresult.lost=%llu\nresult.bench_cpu_pct=%.1f\n"
        "result.acked_total=%llu\nresult.window_s=%.3f\n",
        published_rate, acked_rate, received_rate, f.ack_us.percentile(0.5) / 1e3,
        f.ack_us.percentile(0.99) / 1e3, f.ack_us.percentile(0.999) / 1e3, f.ack_us.max() / 1e3,
        f.e2e_us.percentile(0.5) / 1e3, f.e2e_us.percentile(0.99) / 1e3, f.e2e_us.max() / 1e3,
        static_cast<unsigned long long>(f.failed), static_cast<unsigned long long>(f.lost),
        cpu_pct, static_cast<unsigned long long>(f.acked_total), window_s);
  }
  std::fflush(stdout);
  return f.failed != 0 || f.lost != 0 || !f.drained ? 1 : 0;
}

}  // namespace

void add_mqtt_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<MqttLoadOptions>();
  MqttLoadOptions& o = *options;
  CLI::App* mqtt = app.add_subcommand(
      "mqtt",
      "MQTT 3.1.1 load generator for any broker (Eclipse Paho async client): --publishers "
      "clients publish to devices/dev{i}/messages/events, each keeping --inflight publishes "
      "unacknowledged; --subscribers clients subscribe to devices/+/messages/events. Prints "
      "msgs/s published, acknowledged and received, and publish-to-acknowledgement and "
      "publish-to-subscriber latency. Asserts nothing.");
  auto option = [mqtt](const char* name, auto& value, const char* help) {
    return mqtt->add_option(name, value, help)->capture_default_str();
  };
  option("--host", o.host, "broker address");
  option("--port", o.port, "broker MQTT port");
  option("--publishers", o.publishers, "publishing clients (topic devices/dev{i}/messages/events)");
  option("--subscribers", o.subscribers,
         "subscribing clients, each subscribed to devices/+/messages/events (every message)");
  option("--qos", o.qos, "QoS of publishes and subscriptions (0, 1, 2)");
  option("--payload-bytes", o.payload_bytes,
         "payload size (random bytes; the first 8 carry the send time for end-to-end latency)");
  option("--inflight", o.inflight,
         "publishes each publisher keeps unacknowledged (QoS 0: written to the socket)");
  option("--seconds", o.seconds, "measured duration, after --warmup-seconds");
  option("--warmup-seconds", o.warmup_seconds, "publishing before the measurement starts");
  option("--messages", o.messages,
         "if non-zero: publish this many messages in total (no warm-up) instead of --seconds");
  option("--processes", o.processes,
         "worker processes sharing the clients (Paho runs one send and one receive thread per "
         "process for all its clients, which can limit one process)");
  option("--client-id-prefix", o.client_id_prefix,
         "client ids are PREFIX-p{i} and PREFIX-s{j} (default: hfbench-PID)");
  option("--label", o.label, "name of the broker in the output");
  option("--connect-timeout", o.connect_timeout, "seconds to wait for CONNACK and SUBACK");
  option("--drain-timeout", o.drain_timeout,
         "seconds to wait, after the measurement, for outstanding acknowledgements and deliveries");
  mqtt->add_flag("--kv", o.kv, "also print the figures as result.KEY=VALUE lines (for scripts)");
  mqtt->callback([options, &exit_code] { exit_code = run_mqtt(*options); });
}

}  // namespace holdfast::bench
