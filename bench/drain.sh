#!/usr/bin/env bash
# How fast the bridge drains a backlog to IoT Hub (issue 6): holdfast-hubsim (the emulator, over
# TLS with its generated CA) is put into an outage, `holdfast-bench mqtt` fills holdfastd with
# MESSAGES 100-byte messages from DEVICES devices (queues iothub/dev{i}), the outage ends, and
# the script times the drain from holdfastd's /metrics (holdfast_bridge_forwarded_total) until
# every message is forwarded. It prints msgs/s and payload bytes/s of the drain, CPU seconds of
# holdfastd and of the emulator per message, and holdfastd's RSS. Nothing is asserted.
#
#   bench/drain.sh                           # 1,000,000 messages from 100 devices
#   MESSAGES=200000 DEVICES=10 bench/drain.sh
#   UPSTREAM=mqtt bench/drain.sh             # over IoT Hub's MQTT endpoint (a connection per device)
# Over AMQP the script drains twice, each time from a fresh store and emulator: with IoT Hub
# batches (BATCH messages per transfer) and without (batch = 1), and prints the ratio.
# Environment: BUILD_DIR (default build/bench), JOBS (2), MESSAGES, DEVICES, WINDOW (the
# upstream's window, default 64), BATCH (default 16), UPSTREAM (amqp or mqtt, default amqp),
# TMPDIR (where the store goes: keep it on a real disk).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
messages=${MESSAGES:-1000000}
devices=${DEVICES:-100}
window=${WINDOW:-64}
batch=${BATCH:-16}
upstream=${UPSTREAM:-amqp}
[[ $upstream == amqp || $upstream == mqtt ]] || { echo "bench/drain.sh: UPSTREAM is amqp or mqtt" >&2; exit 1; }
py=/usr/bin/python3

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
command -v curl >/dev/null || die "needs curl"
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfast-bench holdfastd holdfast-hubsim
bench=$build/tools/bench/holdfast-bench
holdfastd=$build/broker/daemon/holdfastd
hubsim=$build/tools/hubsim/holdfast-hubsim

declare -A pid=()
tmp=
stop_all() {
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  pid=()
  [[ -z $tmp ]] || rm -rf "$tmp"
}
trap stop_all EXIT

metric() {  # metric NAME: the value of an unlabelled or first-labelled sample
  curl -sf "http://127.0.0.1:$admin_port/metrics" |
    awk -v n="$1" '!done && ($1 == n || index($1, n "{") == 1) { print $2; done = 1 }'
}

drain_once() {  # drain_once BATCH: a fresh emulator and store, filled, drained; sets $rate
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-drain-bench.XXXXXX")
  key=$(head -c 32 /dev/urandom | base64)
  for ((i = 0; i <= devices; i++)); do echo "dev$i $key"; done >"$tmp/devices"
  hub_port=$(free_port)
  hub_mqtt_port=$(free_port)
  control_port=$(free_port)
  "$hubsim" --amqp-port "$hub_port" --mqtt-port "$hub_mqtt_port" --hub-host localhost --devices "$tmp/devices" \
    --tls-dir "$tmp/tls" --record /dev/null --control-port "$control_port" 2>"$tmp/hubsim.log" &
  pid[hubsim]=$!
  wait_for 30 "the emulator" curl -sf "http://127.0.0.1:$control_port/status"
  curl -sf -XPOST "http://127.0.0.1:$control_port/faults" -d '{"outage": true}' >/dev/null

  mqtt_port=$(free_port)
  admin_port=$(free_port)
  cat >"$tmp/holdfast.toml" <<EOF
[store]
path = "$tmp/store"
[[listener]]
protocol = "mqtt"
bind = "127.0.0.1"
port = $mqtt_port
receive_maximum = 1024
[admin]
port = $admin_port
[log]
level = "info"
[[upstream]]
name = "hub"
kind = "$([[ $upstream == mqtt ]] && echo iothub-mqtt || echo emulator)"
host = "localhost"
port = $([[ $upstream == mqtt ]] && echo "$hub_mqtt_port" || echo "$hub_port")
ca_file = "$tmp/tls/ca.pem"
auth = "device-keys"
device_keys_file = "$tmp/devices"
window = $window
batch = $1
EOF
  "$holdfastd" --config "$tmp/holdfast.toml" 2>"$tmp/holdfastd.log" &
  pid[holdfastd]=$!
  wait_for 30 "holdfastd" curl -sf "http://127.0.0.1:$admin_port/readyz"

  echo "filling: $messages messages of 100 bytes from $devices devices (the emulator is down)"
  # Paho runs one send and one receive thread per process for all its clients: many publishers
  # need several processes, or the fill crawls.
  "$bench" mqtt --port "$mqtt_port" --publishers "$devices" --messages "$messages" --inflight 64 \
    --processes $(((devices + 19) / 20)) --drain-timeout 120 >"$tmp/fill.txt"
  stored=$(metric holdfast_store_messages)
  echo "stored: $stored messages"

  h0=$(cpu_ticks "${pid[holdfastd]}")
  e0=$(cpu_ticks "${pid[hubsim]}")
  f0=$(metric holdfast_bridge_forwarded_total)
  target=$((f0 + messages))
  t_up=$(now)
  curl -sf -XPOST "http://127.0.0.1:$control_port/faults" -d '{"outage": false}' >/dev/null
  # The clock starts when the first messages are through: the bridge's reconnect backoff
  # after the outage is not drain time.
  while ((f0 == $(metric holdfast_bridge_forwarded_total))); do sleep 0.02; done
  t0=$(now)
  fstart=$(metric holdfast_bridge_forwarded_total)
  while :; do
    f=$(metric holdfast_bridge_forwarded_total)
    ((f >= target)) && break
    sleep 0.2
  done
  t1=$(now)
  h1=$(cpu_ticks "${pid[holdfastd]}")
  e1=$(cpu_ticks "${pid[hubsim]}")
  timed=$((target - fstart))
  echo
  echo "drain of $messages messages ($devices devices, window $window, batch $1, TLS):"
  echo "  reconnect after outage   $(calc %.3f "$t0 - $t_up") s (not counted below)"
  echo "  time                     $(calc %.3f "$t1 - $t0") s for the last $timed messages"
  echo "  msgs/s                   $(calc %.0f "$timed / ($t1 - $t0)")"
  echo "  payload bytes/s          $(calc %.0f "$timed * 100 / ($t1 - $t0)")"
  echo "  holdfastd CPU per msg    $(calc %.2f "($h1 - $h0) / $clk_tck / $messages * 1e6") us"
  echo "  emulator CPU per msg     $(calc %.2f "($e1 - $e0) / $clk_tck / $messages * 1e6") us"
  echo "  holdfastd RSS now / peak $(awk '/VmRSS/ {print $2}' "/proc/${pid[holdfastd]}/status") /" \
    "$(awk '/VmHWM/ {print $2}' "/proc/${pid[holdfastd]}/status") KiB"
  rate=$(calc %.0f "$timed / ($t1 - $t0)")
  stop_all
}

drain_once "$batch"
if [[ $upstream == amqp && $batch -gt 1 ]]; then
  batched=$rate
  echo
  drain_once 1
  echo
  echo "batching on / off: $(calc %.2f "$batched / $rate")x ($batched vs $rate msgs/s)"
fi
echo "target (issue 6, with batching): 50,000 msgs/s"
