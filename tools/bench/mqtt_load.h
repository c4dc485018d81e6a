#pragma once
// The MQTT load of `holdfast-bench mqtt` (mqtt_bench.h), run by one process: its share of the
// publishers and subscribers as Eclipse Paho asynchronous clients (MQTTAsync).
//
// Publisher i publishes to devices/dev{i}/messages/events with client id PREFIX-p{i}, keeping
// `inflight` publishes unacknowledged: each acknowledgement (PUBACK for QoS 1, PUBCOMP for QoS 2,
// "written" for QoS 0) sends the next message. Subscriber j (PREFIX-s{j}) subscribes to
// devices/+/messages/events. The first 8 payload bytes carry the send time (CLOCK_MONOTONIC, the
// same in every process of the machine), so a subscriber in another process can compute the
// end-to-end latency. Counts and latencies cover a measured window; see MqttLoadResult.
//
// Concurrency: Paho runs one send and one receive thread per process for all its clients; the
// callbacks share counters (atomics) and histograms (under a mutex). run_mqtt_load() blocks.
// Paho starts its threads on the first client: fork() worker processes before calling it.

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>

#include "tools/bench/bench_util.h"

namespace holdfast::bench {

struct MqttLoadOptions {
  std::string host = "127.0.0.1";
  unsigned port = 1883;
  unsigned publishers = 10;
  unsigned subscribers = 0;
  int qos = 1;
  std::size_t payload_bytes = 100;
  unsigned inflight = 64;
  double seconds = 10;
  double warmup_seconds = 1;
  std::uint64_t messages = 0;  // non-zero: this many in total instead of `seconds`
  unsigned processes = 1;
  std::string client_id_prefix;  // empty: hfbench-PID
  std::string label = "broker";
  double connect_timeout = 10;
  double drain_timeout = 10;
  bool kv = false;
  bool progress = true;  // print progress every 5 s (single process only)
};

// One process's figures; trivially copyable so that a worker can send it through a pipe.
struct MqttLoadResult {
  // Inside the measured window: [start + warm-up, start + warm-up + seconds), or with
  // --messages from the start to the end.
  std::uint64_t published = 0, acked = 0, received = 0;
  LatencyHistogram ack_us;  // publish -> acknowledgement
  LatencyHistogram e2e_us;  // publish -> delivery to a subscriber
  std::int64_t last_ack_ns = 0, last_receive_ns = 0, stopped_ns = 0;
  // The whole run.
  std::uint64_t published_total = 0, acked_total = 0, received_total = 0;
  std::uint64_t failed = 0, lost = 0, not_ready = 0;
  std::uint64_t min_acked = 0, max_acked = 0;  // per publisher
  double cpu_seconds = 0;  // this process, user + system, during the measured window
  bool drained = true;     // every acknowledgement arrived before the drain timeout
  char first_error[240] = {};
};
static_assert(std::is_trivially_copyable_v<MqttLoadResult>);

// Steady-clock (CLOCK_MONOTONIC) nanoseconds.
std::int64_t mqtt_now_ns();

// Runs process `proc` of `procs`: publishers i and subscribers j with i % procs == proc. Once all
// are connected (and subscribed) it calls `ready(ok)`, which returns the common start time
// (mqtt_now_ns() based) or 0 to abort; then publishes until the end of the window (or its share of
// --messages), waits for the outstanding acknowledgements and deliveries, and disconnects.
MqttLoadResult run_mqtt_load(const MqttLoadOptions& o, unsigned proc, unsigned procs,
                             const std::function<std::int64_t(bool ok)>& ready);

}  // namespace holdfast::bench
