#include "tools/bench/amqp_bench.h"

#include <unistd.h>

#include <cstdio>
#include <memory>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/bench/amqp_load.h"
#include "tools/bench/bench_util.h"

namespace holdfast::bench {
namespace {

std::string ms(std::uint64_t us) {
  return strprintf("%.2f", us / 1e3);
}

std::string percentiles(const LatencyHistogram& h) {
  return ms(h.percentile(0.5)) + " / " + ms(h.percentile(0.99)) + " / " + ms(h.percentile(0.999)) +
         " / " + ms(h.max());
}

// Main thread.
int run_amqp(const AmqpLoadOptions& o) {
  if (o.senders == 0 || o.window == 0 || o.credit == 0 || o.port == 0 || o.port > 65535 ||
      o.threads == 0 || o.seconds <= 0 || o.warmup_seconds < 0) {
    std::fprintf(stderr,
                 "holdfast-bench amqp: need --senders >= 1, --window >= 1, --credit >= 1, "
                 "--threads >= 1, --seconds > 0 and a port\n");
    return 2;
  }
  const unsigned links = o.senders + o.receivers;
  const unsigned conns = o.connections == 0 ? links : std::min(o.connections, links);
  std::printf(
      "holdfast-bench amqp [%s]: amqp://%s:%u, %u senders x window %u to '%s'%s, %u receivers "
      "(credit %u), %u connection%s, %zu-byte payloads%s, %g s after %g s warm-up, %u Proton "
      "thread%s\n",
      o.label.c_str(), o.host.c_str(), o.port, o.senders, o.window, o.address.c_str(),
      o.per_sender_address ? " (one address per sender)" : "", o.receivers, o.credit, conns,
      conns == 1 ? "" : "s", o.payload_bytes, o.durable ? ", durable" : "", o.seconds,
      o.warmup_seconds, o.threads, o.threads == 1 ? "" : "s");
  if (o.per_sender_address && o.receivers > 0 && o.receivers < o.senders) {
    std::printf("  note: %u receivers for %u sender addresses: %u addresses have no receiver\n",
                o.receivers, o.senders, o.senders - o.receivers);
  }
  std::fflush(stdout);

  std::int64_t start = 0;
  AmqpLoadResult f = run_amqp_load(o, [&](bool ok) {
    start = ok ? amqp_now_ns() : 0;
    return start;
  });
  auto print_errors = [&] {
    for (const auto& [what, n] : f.errors) {
      std::printf("  error (x%s): %s\n", format_count(n).c_str(), what.c_str());
    }
  };
  if (start == 0) {
    std::fprintf(stderr, "holdfast-bench amqp: %llu links could not attach; no load run\n",
                 static_cast<unsigned long long>(f.not_ready));
    print_errors();
    return 1;
  }

  const double window_s = o.seconds;
  const double sent_rate = f.sent / window_s;
  const double accepted_rate = f.accepted / window_s;
  const double received_rate = f.received / window_s;
  const double cpu_pct = 100.0 * f.cpu_seconds / window_s;
  const std::uint64_t errors =
      f.rejected + f.released + f.unsettled + f.link_errors + f.connection_errors;

  std::printf("\nSummary [%s]\n", o.label.c_str());
  Table t({"figure", "value"});
  t.add({"sent msgs/s", strprintf("%.0f", sent_rate)});
  t.add({"accepted msgs/s (settled by the broker)", strprintf("%.0f", accepted_rate)});
  if (o.receivers) {
    t.add({strprintf("received msgs/s (all %u receivers)", o.receivers),
           strprintf("%.0f", received_rate)});
  }
  t.add({"transfer -> accepted latency p50 / p99 / p99.9 / max (ms)", percentiles(f.accept_us)});
  if (o.receivers) {
    t.add({"transfer -> receiver latency p50 / p99 / p99.9 / max (ms)", percentiles(f.e2e_us)});
  }
  t.add({"messages sent / accepted / received (whole run)",
         format_count(f.sent_total) + " / " + format_count(f.accepted_total) + " / " +
             format_count(f.received_total)});
  if (f.received_backlog) {
    t.add({"received, sent before this run (not in rates or latency)",
           format_count(f.received_backlog)});
  }
  t.add({"accepted per sender (min / max)",
         format_count(f.min_accepted) + " / " + format_count(f.max_accepted)});
  t.add({"rejected / released or modified / never settled", format_count(f.rejected) + " / " +
                                                                format_count(f.released) + " / " +
                                                                format_count(f.unsettled)});
  t.add({"link errors / connection errors",
         format_count(f.link_errors) + " / " + format_count(f.connection_errors)});
  t.add({"holdfast-bench CPU (% of one core, measured window)", strprintf("%.0f%%", cpu_pct)});
  t.print(stdout);
  if (!f.drained) std::printf("  (outcomes still missing after --drain-timeout)\n");
  if (cpu_pct / o.threads >= 80) {
    std::printf(
        "  note: holdfast-bench used %.0f%% of a core per Proton thread: the client may be what "
        "limits the rate; compare with --threads %u\n",
        cpu_pct / o.threads, o.threads + 1);
  }
  print_errors();
  if (o.kv) {
    std::printf(
        "result.sent_per_s=%.1f\nresult.accepted_per_s=%.1f\nresult.received_per_s=%.1f\n"
        "result.accept_p50_ms=%.3f\nresult.accept_p99_ms=%.3f\nresult.accept_p999_ms=%.3f\n"
        "result.accept_max_ms=%.3f\nresult.e2e_p50_ms=%.3f\nresult.e2e_p99_ms=%.3f\n"
        "result.e2e_max_ms=%.3f\nresult.rejected=%llu\nresult.released=%llu\n"
        "result.unsettled=%llu\nresult.link_errors=%llu\nresult.connection_errors=%llu\n"
        "result.bench_cpu_pct=%.1f\nresult.accepted_total=%llu\nresult.received_total=%llu\n"
        "result.received_backlog=%llu\nresult.window_s=%.3f\n",
        sent_rate, accepted_rate, received_rate, f.accept_us.percentile(0.5) / 1e3,
        f.accept_us.percentile(0.99) / 1e3, f.accept_us.percentile(0.999) / 1e3,
        f.accept_us.max() / 1e3, f.e2e_us.percentile(0.5) / 1e3, f.e2e_us.percentile(0.99) / 1e3,
        f.e2e_us.max() / 1e3, static_cast<unsigned long long>(f.rejected),
        static_cast<unsigned long long>(f.released), static_cast<unsigned long long>(f.unsettled),
        static_cast<unsigned long long>(f.link_errors),
        static_cast<unsigned long long>(f.connection_errors), cpu_pct,
        static_cast<unsigned long long>(f.accepted_total),
        static_cast<unsigned long long>(f.received_total),
        static_cast<unsigned long long>(f.received_backlog), window_s);
  }
  std::fflush(stdout);
  return errors != 0 || !f.drained ? 1 : 0;
}

}  // namespace

void add_amqp_commands(CLI::App& app, int& exit_code) {
  auto options = std::make_shared<AmqpLoadOptions>();
  AmqpLoadOptions& o = *options;
  CLI::App* amqp = app.add_subcommand(
      "amqp",
      "AMQP 1.0 load generator for any broker (Qpid Proton-C proactor): --senders links transfer "
      "unsettled messages to --address, each with at most --window awaiting the broker's "
      "outcome; --receivers links accept every message. Prints msgs/s sent, accepted and "
      "received, and transfer-to-accepted and end-to-end latency. Asserts nothing.");
  auto option = [amqp](const char* name, auto& value, const char* help) {
    return amqp->add_option(name, value, help)->capture_default_str();
  };
  option("--host", o.host, "broker address");
  option("--port", o.port, "broker AMQP port");
  option("--senders", o.senders, "sender links");
  option("--receivers", o.receivers, "receiver links (competing consumers of the address)");
  option("--connections", o.connections,
         "connections the links are spread over, round-robin (0: one connection per link)");
  option("--address", o.address,
         "target of the senders and source of the receivers (RabbitMQ: /queue/NAME)");
  amqp->add_flag("--per-sender-address", o.per_sender_address,
                 "sender i uses the address with {i} replaced by i (or ADDRESS/i without {i}); "
                 "receiver j uses sender j % senders's");
  option("--payload-bytes", o.payload_bytes,
         "payload size: one data section of random bytes (the first 8 carry the send time)");
  option("--window", o.window, "most unsettled transfers per sender");
  option("--credit", o.credit, "credit each receiver keeps granted");
  option("--seconds", o.seconds, "measured duration, after --warmup-seconds");
  option("--warmup-seconds", o.warmup_seconds, "sending before the measurement starts");
  amqp->add_flag("--durable", o.durable,
                 "messages with header durable=true; link termini with configuration durability "
                 "(RabbitMQ: persistent messages, durable queues)");
  option("--user", o.user, "SASL PLAIN user (empty: SASL ANONYMOUS)");
  option("--password", o.password, "SASL PLAIN password");
  option("--threads", o.threads, "Proton proactor threads running the connections");
  option("--container-prefix", o.container_prefix,
         "container ids are PREFIX-c{k}, link names PREFIX-s{i} / PREFIX-r{j} (default: "
         "hfbench-PID)");
  option("--label", o.label, "name of the broker in the output");
  option("--connect-timeout", o.connect_timeout, "seconds to wait for every link to attach");
  option("--drain-timeout", o.drain_timeout,
         "seconds to wait, after the measurement, for outstanding outcomes and deliveries");
  amqp->add_flag("--kv", o.kv, "also print the figures as result.KEY=VALUE lines (for scripts)");
  amqp->callback([options, &exit_code] { exit_code = run_amqp(*options); });
}

}  // namespace holdfast::bench
