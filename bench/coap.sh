#!/usr/bin/env bash
# Runs the CoAP load generator (`holdfast-bench coap`) against holdfastd (durable: sync = fsync,
# the default) and, in the same run on the same daemon, `holdfast-bench mqtt` at QoS 1 as the
# reference: no CoAP broker peer exists on Debian. Prints both, holdfastd's CPU time per
# acknowledged message of each, and the ratio CoAP CON / MQTT QoS 1 acknowledged msgs/s. The
# target (issue 5): >= 0.8. Nothing is asserted: the exit status is 0 unless a run could not be
# made.
#
# The same load on both sides: MQTT keeps MQTT_PUBLISHERS x MQTT_INFLIGHT publishes awaiting
# PUBACK; a CoAP client has one confirmable request outstanding (NSTART = 1, RFC 7252 4.7), so
# unless --clients is given the CoAP run has as many clients as MQTT has messages in flight
# (fewer clients measure their round trip, not the server). The MQTT load comes from
# MQTT_PROCESSES processes (default 2): one Paho process saturates a core before holdfastd
# does, which would flatter CoAP.
#
# Arguments go to `holdfast-bench coap` (not --host/--port/--label/--kv):
#   bench/coap.sh                          # 640 CON clients, 100 B, 10 s (+1 s warm-up)
#   bench/coap.sh --clients 50 --non-clients 50
# Environment: BUILD_DIR (default: build/bench), JOBS (default: 2), MQTT_PUBLISHERS (default 10),
# MQTT_INFLIGHT (default 64), MQTT_PROCESSES (default 2), TMPDIR (where the store goes: keep it on the disk you mean to
# measure, not tmpfs).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
py=/usr/bin/python3
die() { echo "bench/coap.sh: $*" >&2; exit 1; }
command -v curl >/dev/null || die "needs curl"

if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfast-bench holdfastd
build=$(cd "$build" && pwd)
bench=$build/tools/bench/holdfast-bench
holdfastd=$build/broker/daemon/holdfastd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-coap-bench.XXXXXX")
pid=
cleanup() {
  [[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
free_port() {  # free for TCP and UDP a moment ago
  $py -c 'import socket
while True:
    t = socket.socket(); t.bind(("127.0.0.1", 0)); p = t.getsockname()[1]
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        u.bind(("127.0.0.1", p)); print(p); break
    except OSError:
        pass'
}
coap_port=$(free_port); mqtt_port=$(free_port); admin_port=$(free_port)
cat > "$tmp/holdfast.toml" <<TOML
[store]
path = "store"
[[listener]]
protocol = "coap"
bind = "127.0.0.1"
port = $coap_port
[[listener]]
protocol = "mqtt"
bind = "127.0.0.1"
port = $mqtt_port
[admin]
bind = "127.0.0.1"
port = $admin_port
[log]
level = "warn"
file = "holdfastd.log"
TOML
(cd "$tmp" && exec "$holdfastd" --config holdfast.toml) &
pid=$!
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null && break
  sleep 0.1
done
curl -sf "http://127.0.0.1:$admin_port/readyz" >/dev/null || die "holdfastd did not get ready"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
per_message() {  # holdfastd CPU microseconds per message: ticks before, after, messages
  $py -c "import os; t = ($2 - $1) / os.sysconf('SC_CLK_TCK'); n = max(int('${3:-0}' or 0), 1)
print(f'holdfastd CPU {t:.1f} s for {n} acknowledged messages = {t * 1e6 / n:.1f} us per message')"
}
publishers=${MQTT_PUBLISHERS:-10}
inflight=${MQTT_INFLIGHT:-64}
clients=()
[[ " $* " == *" --clients "* ]] || clients=(--clients $((publishers * inflight)))

c0=$(cpu_ticks)
coap_out=$("$bench" coap --host 127.0.0.1 --port "$coap_port" --kv "${clients[@]}" "$@") ||
  die "coap run failed"
c1=$(cpu_ticks)
echo "$coap_out" | grep -v '^result\.'
per_message "$c0" "$c1" "$(echo "$coap_out" | sed -n 's/^result\.con_total=//p')"
m0=$(cpu_ticks)
mqtt_out=$("$bench" mqtt --host 127.0.0.1 --port "$mqtt_port" --qos 1 \
  --publishers "$publishers" --inflight "$inflight" --processes "${MQTT_PROCESSES:-2}" --kv) ||
  die "mqtt run failed"
m1=$(cpu_ticks)
echo "$mqtt_out" | grep -v '^result\.' | tail -8
per_message "$m0" "$m1" "$(echo "$mqtt_out" | sed -n 's/^result\.acked_total=//p')"
coap_rate=$(echo "$coap_out" | sed -n 's/^result\.con_msgs_per_s=//p')
mqtt_rate=$(echo "$mqtt_out" | sed -n 's/^result\.acked_per_s=//p')
echo
if [[ -n $coap_rate && -n $mqtt_rate ]]; then
  $py -c "print(f'CoAP CON {float($coap_rate):.0f} msgs/s vs MQTT QoS 1 {float($mqtt_rate):.0f} msgs/s: ' \
f'{float($coap_rate) / float($mqtt_rate):.2f}x (target >= 0.8x)')"
else
  echo "ratio: could not read both rates (coap '$coap_rate', mqtt '$mqtt_rate')"
fi
