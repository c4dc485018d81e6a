#!/usr/bin/env bash
# End-to-end latency device -> IoT Hub while online (issue 6), side by side with a peer:
# holdfast-hubsim (the emulator, TLS, its generated CA) records every message it accepts with
# its enqueued time; a paho-mqtt device publishes QoS 1 at a steady rate with its send time in
# the payload, first through holdfastd (stored durably, then bridged), then through mosquitto's
# own MQTT bridge to the emulator's MQTT endpoint (in memory, no store), as the same device.
# Latency = when the emulator recorded it (its received_at_us) - the send time. Prints p50/p90/p99/max for both and
# the ratios. Nothing is asserted.
#
#   bench/latency.sh                   # 2,000 messages at 200/s
#   RATE=1000 COUNT=10000 bench/latency.sh
#   UPSTREAM=mqtt bench/latency.sh     # holdfastd bridges over MQTT too
# Environment: BUILD_DIR (default build/bench), JOBS (2), RATE, COUNT, UPSTREAM (amqp or mqtt),
# TMPDIR (where the store goes).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rate=${RATE:-200}
count=${COUNT:-2000}
upstream=${UPSTREAM:-amqp}
[[ $upstream == amqp || $upstream == mqtt ]] || { echo "bench/latency.sh: UPSTREAM is amqp or mqtt" >&2; exit 1; }
py=/usr/bin/python3

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
command -v curl >/dev/null || die "needs curl"
command -v mosquitto >/dev/null || die "needs mosquitto (the peer): apt-get install mosquitto"
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfastd holdfast-hubsim
holdfastd=$build/broker/daemon/holdfastd
hubsim=$build/tools/hubsim/holdfast-hubsim

tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-latency-bench.XXXXXX")
declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

key=$(head -c 32 /dev/urandom | base64)
echo "dev1 $key" >"$tmp/devices"
hub_amqp=$(free_port)
hub_mqtt=$(free_port)
control=$(free_port)
"$hubsim" --amqp-port "$hub_amqp" --mqtt-port "$hub_mqtt" --hub-host localhost \
  --devices "$tmp/devices" --tls-dir "$tmp/tls" --record "$tmp/record.jsonl" \
  --control-port "$control" 2>"$tmp/hubsim.log" &
pid[hubsim]=$!
wait_for 30 "the emulator" curl -sf "http://127.0.0.1:$control/status"

# publish PORT N: N QoS 1 messages to dev1's telemetry topic at RATE/s, the send time (ns) in
# the first 8 bytes.
publish() {
  $py - "$1" "devices/dev1/messages/events/" "$2" "$rate" <<'PY'
import struct, sys, threading, time
import paho.mqtt.client as mqtt
port, topic, count, rate = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
c = mqtt.Client("latency-device")
c.max_inflight_messages_set(1000)
c.connect("127.0.0.1", port)
c.loop_start()
infos, start = [], time.monotonic()
for i in range(count):
    delay = start + i / rate - time.monotonic()
    if delay > 0:
        time.sleep(delay)  # pacing the load, not synchronisation
    infos.append(c.publish(topic, struct.pack(">Q", time.time_ns()) + bytes(92), qos=1))
for info in infos:
    info.wait_for_publish(timeout=60)
c.disconnect()
c.loop_stop()
PY
}

# wait_record N: until the emulator's record has N lines.
wait_record() {
  local deadline=$((SECONDS + 60))
  until (($(wc -l <"$tmp/record.jsonl" 2>/dev/null || echo 0) >= $1)); do
    if ((SECONDS >= deadline)); then
      for f in "$tmp"/*.log; do echo "== $f" >&2; tail -n 5 "$f" >&2; done
      die "timed out: the hub has $(wc -l <"$tmp/record.jsonl") of $1"
    fi
    sleep 0.2
  done
}

# stats FROM_LINE KEY LABEL: latency percentiles of the record's lines after FROM_LINE; prints
# them and writes "p50 p99" to $tmp/KEY.
stats() {
  $py - "$tmp/record.jsonl" "$1" "$tmp/$2" "$3" <<'PY'
import base64, json, struct, sys
path, skip, out, name = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lat = []
with open(path) as f:
    for n, line in enumerate(f):
        if n < skip:
            continue
        m = json.loads(line)
        sent_ns = struct.unpack(">Q", base64.b64decode(m["payload_base64"])[:8])[0]
        lat.append(m["received_at_us"] / 1e3 - sent_ns / 1e6)
lat.sort()
pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
print(f"  {name:<34} n={len(lat)}  p50 {pick(.5):6.1f} ms  p90 {pick(.9):6.1f} ms  "
      f"p99 {pick(.99):6.1f} ms  max {lat[-1]:6.1f} ms")
open(out, "w").write(f"{pick(.5)} {pick(.99)}\n")
PY
}

echo "latency device -> emulator, $count QoS 1 messages of 100 bytes at $rate/s, TLS upstream"

# 1. holdfastd: durable store, then the bridge.
mqtt_port=$(free_port)
admin_port=$(free_port)
cat >"$tmp/holdfast.toml" <<EOF
[store]
path = "$tmp/store"
[[listener]]
protocol = "mqtt"
bind = "127.0.0.1"
port = $mqtt_port
[admin]
port = $admin_port
[log]
level = "info"
[[upstream]]
name = "hub"
kind = "$([[ $upstream == mqtt ]] && echo iothub-mqtt || echo emulator)"
host = "localhost"
port = $([[ $upstream == mqtt ]] && echo "$hub_mqtt" || echo "$hub_amqp")
ca_file = "$tmp/tls/ca.pem"
auth = "device-keys"
device_keys_file = "$tmp/devices"
EOF
"$holdfastd" --config "$tmp/holdfast.toml" 2>"$tmp/holdfastd.log" &
pid[holdfastd]=$!
wait_for 30 "holdfastd" curl -sf "http://127.0.0.1:$admin_port/readyz"
publish "$mqtt_port" 1  # warm-up: the bridge connects and opens the device
wait_record 1
publish "$mqtt_port" "$count"
wait_record $((1 + count))
stats 1 holdfastd "holdfastd (stored, bridged over $upstream)"
kill -TERM "${pid[holdfastd]}"
wait "${pid[holdfastd]}" 2>/dev/null || true
unset 'pid[holdfastd]'

# 2. mosquitto's bridge to the emulator's MQTT endpoint, as the same device.
se=$(($(date +%s) + 3600))
sas=$($py - "$key" "$se" <<'PY'
import base64, hashlib, hmac, sys, urllib.parse
key, se = base64.b64decode(sys.argv[1]), sys.argv[2]
sr = urllib.parse.quote("localhost/devices/dev1", safe="")
sig = base64.b64encode(hmac.new(key, f"{sr}\n{se}".encode(), hashlib.sha256).digest()).decode()
print(f"SharedAccessSignature sr={sr}&sig={urllib.parse.quote(sig, safe='')}&se={se}")
PY
)
peer_port=$(free_port)
cat >"$tmp/mosquitto.conf" <<EOF
listener $peer_port 127.0.0.1
user $(id -un)
allow_anonymous true
persistence false
connection hub
address localhost:$hub_mqtt
bridge_cafile $tmp/tls/ca.pem
bridge_protocol_version mqttv311
remote_clientid dev1
remote_username localhost/dev1/?api-version=2021-04-12
remote_password $sas
cleansession true
try_private false
notifications false
start_type automatic
topic devices/dev1/messages/events/# out 1
EOF
mosquitto -c "$tmp/mosquitto.conf" 2>"$tmp/mosquitto.log" &
pid[mosquitto]=$!
wait_for 30 "mosquitto" bash -c "echo > /dev/tcp/127.0.0.1/$peer_port"
publish "$peer_port" 1  # warm-up: mosquitto's bridge is connected once this arrives
wait_record $((2 + count))
publish "$peer_port" "$count"
wait_record $((2 + 2 * count))
stats $((2 + count)) mosquitto "mosquitto (in memory, its bridge)"

read -r h50 h99 <"$tmp/holdfastd"
read -r m50 m99 <"$tmp/mosquitto"
echo "holdfastd / mosquitto: p50 $($py -c "print(f'{$h50 / max($m50, 0.5):.2f}')")x," \
  "p99 $($py -c "print(f'{$h99 / max($m99, 0.5):.2f}')")x (lower is better for holdfastd)"
