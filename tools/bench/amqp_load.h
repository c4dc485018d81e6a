#pragma once
// The AMQP 1.0 load of `holdfast-bench amqp` (amqp_bench.h): senders and receivers as Qpid
// Proton-C connections driven by its proactor.
//
// Sender i attaches a link to its address (--address, or with --per-sender-address the address
// with "{i}" replaced, or "/{i}" appended) and transfers unsettled messages while the broker
// gives it credit and fewer than `window` of its transfers are unsettled; a transfer counts once
// the broker settles it `accepted` (rejected, released and modified ones are errors). Receiver j
// attaches to the shared address (per-sender addresses: sender j % senders's), grants `credit`
// and accepts every message. Each message is one data section whose first 8 bytes carry the send
// time (CLOCK_MONOTONIC), so receivers measure the end-to-end latency; with `durable` the header
// says durable=true and the link termini ask for configuration durability (RabbitMQ then
// declares durable queues). Links go on one connection each, or round-robin over `connections`.
//
// Concurrency: run_amqp_load() blocks its caller (the main thread: connects, times the window,
// drains, closes) while `threads` Proton threads run pn_proactor_wait() and handle the events.
// Proton serializes the events of one connection, so each connection's state and figures are
// touched by one thread at a time; totals shared with the main thread are atomics.

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tools/bench/bench_util.h"

namespace holdfast::bench {

struct AmqpLoadOptions {
  std::string host = "127.0.0.1";
  unsigned port = 5672;
  unsigned senders = 10;
  unsigned receivers = 0;
  unsigned connections = 0;  // 0: one per link
  std::string address = "bench";
  bool per_sender_address = false;
  std::size_t payload_bytes = 100;
  unsigned window = 100;  // most unsettled transfers per sender
  unsigned credit = 100;  // credit each receiver keeps granted
  double seconds = 10;
  double warmup_seconds = 1;
  bool durable = false;
  std::string user;  // empty: SASL ANONYMOUS
  std::string password;
  unsigned threads = 1;          // Proton proactor threads
  std::string container_prefix;  // empty: hfbench-PID
  std::string label = "broker";
  double connect_timeout = 10;
  double drain_timeout = 10;
  bool kv = false;
  bool progress = true;  // print progress every 5 s
};

struct AmqpLoadResult {
  // Inside the measured window [start + warm-up, start + warm-up + seconds).
  std::uint64_t sent = 0, accepted = 0, received = 0;
  LatencyHistogram accept_us;  // transfer -> settled `accepted`
  LatencyHistogram e2e_us;     // transfer -> arrival at a receiver
  // The whole run.
  std::uint64_t sent_total = 0, accepted_total = 0, received_total = 0;
  std::uint64_t received_backlog = 0;  // of received_total: sent before this run started
  std::uint64_t rejected = 0;          // settled `rejected`
  std::uint64_t released = 0;          // settled `released` or `modified`
  std::uint64_t unsettled = 0;         // still unsettled when the connections were closed
  std::uint64_t link_errors = 0, connection_errors = 0;
  std::uint64_t not_ready = 0;  // links not attached (with credit, for senders) in time
  std::uint64_t min_accepted = 0, max_accepted = 0;  // per sender
  double cpu_seconds = 0;  // this process, user + system, during the measured window
  bool drained = true;     // every transfer settled before the drain timeout
  // Distinct errors with the AMQP condition, in order of first occurrence, and their counts.
  std::vector<std::pair<std::string, std::uint64_t>> errors;
};

// Steady-clock (CLOCK_MONOTONIC) nanoseconds.
std::int64_t amqp_now_ns();

// Connects every link; once all are attached (or the connect time-out passed) calls
// `ready(ok)`, which returns the start time (amqp_now_ns() based) or 0 to abort; then sends
// until the end of the window, waits for the outstanding settlements and deliveries, and closes.
AmqpLoadResult run_amqp_load(const AmqpLoadOptions& o,
                             const std::function<std::int64_t(bool ok)>& ready);

}  // namespace holdfast::bench
