#!/usr/bin/env bash
# Runs the MQTT load generator (`holdfast-bench mqtt`) side by side against holdfastd (durable:
# sync = fsync, the default) and Debian's mosquitto (messages in memory only, persistence off),
# both started here on free ports of 127.0.0.1, and prints the figures with the ratio
# Holdfast/Mosquitto:
#   - msgs/s published, acknowledged (PUBACK) and received, publish-to-PUBACK and
#     publish-to-subscriber latency (from holdfast-bench mqtt)
#   - broker CPU time per message and per second (/proc/PID/stat, over each load run); for
#     holdfastd also messages per group commit and time per synced write (its /metrics), and
#     before the runs what one fdatasync costs in the store's directory
#   - RSS of each broker idle (after start), with IDLE_CONNECTIONS idle connections (bench/
#     mqtt_idle.py: raw MQTT 3.1.1 CONNECT, keep-alive 0) and after the load (VmRSS, VmHWM)
# The target (the issue): QoS 1, 100-byte payloads, 10 publishers: Holdfast >= 1.0x Mosquitto's
# acknowledged msgs/s. Nothing is asserted: the exit status is 0 unless a run could not be made.
#
# Arguments go to `holdfast-bench mqtt` for every load run (not --host/--port/--label/--kv):
#   bench/mqtt.sh                                  # 10 publishers, QoS 1, 100 B, 10 s (+1 s warm-up)
#   bench/mqtt.sh --seconds 15 --subscribers 2     # with 2 subscribers receiving every message
#   ROUNDS=3 bench/mqtt.sh                         # 3 load runs per broker, alternating; medians
#   bench/mqtt.sh --processes 2                    # clients in 2 processes: one Paho process
#                                                  # tops out near one core (see its CPU figure)
# Environment: BUILD_DIR (default: build/bench), BUILD_TYPE (default: RelWithDebInfo), JOBS
# (default: 2), ROUNDS (default: 1), IDLE_CONNECTIONS (default: 1000), HOLDFAST_SYNC=os (holdfastd
# acknowledges once the OS has the write, no fsync: for diagnosis), MOSQUITTO_NODELAY=1 (adds
# `set_tcp_nodelay true` to mosquitto's config; holdfastd always sets TCP_NODELAY, mosquitto 2.0
# does not by default), TMPDIR (where the store goes: keep it on the disk you mean to measure,
# not tmpfs). Ports are picked free; the temp dir is removed at exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-1}
idle_connections=${IDLE_CONNECTIONS:-1000}
py=/usr/bin/python3

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -f /usr/include/CLI/CLI.hpp ]] || die "holdfast-bench needs CLI11: apt-get install libcli11-dev"
[[ -f /usr/include/MQTTAsync.h ]] || die "holdfast-bench needs Paho: apt-get install libpaho-mqtt-dev"
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] ||
  die "needs the mosquitto broker: apt-get install mosquitto"
mosquitto=$(command -v mosquitto || echo /usr/sbin/mosquitto)
command -v curl >/dev/null || die "needs curl"
[[ -x $py ]] || die "needs $py"

if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfast-bench holdfastd
bench=$build/tools/bench/holdfast-bench
holdfastd=$build/broker/daemon/holdfastd

# Open files: the idle connections, the load's clients and the store's files.
need=$((idle_connections + 1024))
if [[ $(ulimit -Sn) != unlimited && $(ulimit -Sn) -lt $need ]]; then
  hard=$(ulimit -Hn)
  ulimit -Sn "$([[ $hard == unlimited || $hard -gt $need ]] && echo "$need" || echo "$hard")"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-mqtt-bench.XXXXXX")
declare -A pid=()
cleanup() {
  for p in "${pid[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
if [[ $(stat -f -c %T "$tmp") == tmpfs ]]; then
  echo "bench/mqtt.sh: warning: $tmp is on tmpfs: holdfastd's fsync costs nothing there" >&2
fi

declare -A s0=() s1=()
# shellcheck disable=SC2034  # `into` is a nameref to the caller's array
store_metrics() {  # store_metrics ARRAY: holdfastd's holdfast_store_*_total counters
  local -n into=$1
  local k val
  while read -r k val; do into["$k"]=$val; done < <(curl -fs "http://127.0.0.1:$admin_port/metrics" |
    awk '$1 ~ /^holdfast_store_[a-z_]+_total$/ { k = $1; sub(/^holdfast_store_/, "", k);
                                                sub(/_total$/, "", k); print k, $2 }')
}

# What one fdatasync costs where the store goes (holdfastd pays one per group commit).
fsync_ms=$($py - "$tmp" <<'PY'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
t = []
for _ in range(50):
    os.write(fd, b"x" * 4096)
    t0 = time.perf_counter()
    os.fdatasync(fd)
    t.append((time.perf_counter() - t0) * 1e3)
os.close(fd)
os.unlink(path)
t.sort()
print(f"p50 {t[25]:.2f} ms, p90 {t[45]:.2f} ms, max {t[-1]:.2f} ms")
PY
)
echo "fdatasync after a 4 KiB append in $tmp (50 samples): $fsync_ms"

# ---- start both brokers ---------------------------------------------------------------------
declare -A port=() v=()
port[holdfastd]=$(free_port)
admin_port=$(free_port)
mkdir -p "$tmp/holdfastd"
cat >"$tmp/holdfastd/holdfast.toml" <<EOF
[store]
path = "$tmp/holdfastd/store"
sync = "${HOLDFAST_SYNC:-fsync}"

[[listener]]
protocol = "mqtt"
bind = "127.0.0.1"
port = ${port[holdfastd]}

[admin]
bind = "127.0.0.1"
port = $admin_port

[log]
level = "warn"
EOF
"$holdfastd" --config "$tmp/holdfastd/holdfast.toml" >"$tmp/holdfastd/log" 2>&1 &
pid[holdfastd]=$!
t0=$(now)
for _ in $(seq 300); do
  curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null 2>&1 && break
  kill -0 "${pid[holdfastd]}" 2>/dev/null || { cat "$tmp/holdfastd/log" >&2; die "holdfastd exited"; }
  sleep 0.05
done
curl -fs "http://127.0.0.1:$admin_port/readyz" >/dev/null || die "holdfastd not ready after 15 s"
v[holdfastd.ready_s]=$(calc "%.2f" "$(now) - $t0")

port[mosquitto]=$(free_port)
mkdir -p "$tmp/mosquitto"
{
  echo "listener ${port[mosquitto]} 127.0.0.1"
  echo "allow_anonymous true"
  echo "persistence false"
  echo "log_dest stderr"
  echo "log_type error"
  echo "log_type warning"
  if [[ ${MOSQUITTO_NODELAY:-0} == 1 ]]; then echo "set_tcp_nodelay true"; fi
} >"$tmp/mosquitto/mosquitto.conf"
"$mosquitto" -c "$tmp/mosquitto/mosquitto.conf" >"$tmp/mosquitto/log" 2>&1 &
pid[mosquitto]=$!
t0=$(now)
for _ in $(seq 300); do
  (exec 3<>"/dev/tcp/127.0.0.1/${port[mosquitto]}") 2>/dev/null && break
  kill -0 "${pid[mosquitto]}" 2>/dev/null || { cat "$tmp/mosquitto/log" >&2; die "mosquitto exited"; }
  sleep 0.05
done
v[mosquitto.ready_s]=$(calc "%.2f" "$(now) - $t0")
echo "holdfastd $("$holdfastd" --version | awk '{print $2}') (pid ${pid[holdfastd]}, mqtt port" \
  "${port[holdfastd]}, store $tmp/holdfastd/store, sync ${HOLDFAST_SYNC:-fsync}) ready in ${v[holdfastd.ready_s]} s;" \
  "$("$mosquitto" -h 2>&1 | head -1) (pid ${pid[mosquitto]}, port ${port[mosquitto]}," \
  "persistence off) ready in ${v[mosquitto.ready_s]} s"

# ---- memory: idle, then with idle connections ---------------------------------------------------
sleep 1
brokers=(holdfastd mosquitto)
for b in "${brokers[@]}"; do
  v[$b.idle_rss_kb]=$(status_kb "${pid[$b]}" VmRSS)
  line=$($py "$root/bench/mqtt_idle.py" --port "${port[$b]}" --pid "${pid[$b]}" \
    --count "$idle_connections" --prefix "idle-$b") || die "$b: idle connections failed: $line"
  echo "$b: idle RSS ${v[$b.idle_rss_kb]} kB; with $idle_connections idle connections: $line"
  for kv in $line; do v[$b.conn_${kv%%=*}]=${kv#*=}; done
done
sleep 1

# ---- load runs, alternating brokers -----------------------------------------------------------
for ((r = 1; r <= rounds; r++)); do
  for b in "${brokers[@]}"; do
    echo
    if [[ $rounds -gt 1 ]]; then echo "=== round $r/$rounds: $b"; fi
    if [[ $b == holdfastd ]]; then store_metrics s0; fi
    c0=$(cpu_ticks "${pid[$b]}")
    t0=$(now)
    out="$tmp/$b.run$r.txt"
    status=0
    "$bench" mqtt --host 127.0.0.1 --port "${port[$b]}" --label "$b" --kv "$@" >"$out" || status=$?
    t1=$(now)
    c1=$(cpu_ticks "${pid[$b]}")
    if [[ $b == holdfastd ]]; then store_metrics s1; fi
    grep -v '^result\.' "$out"
    [[ $status -eq 0 ]] || echo "  ($b: holdfast-bench mqtt exited with status $status)"
    grep -q '^result\.' "$out" || die "$b: no figures from holdfast-bench"
    while IFS='=' read -r k val; do v[$b.$r.${k#result.}]=$val; done < <(grep '^result\.' "$out")
    cpu_s=$(calc "%.6f" "($c1 - $c0) / $clk_tck")
    v[$b.$r.cpu_pct]=$(calc "%.1f" "100 * $cpu_s / ($t1 - $t0)")
    n=${v[$b.$r.acked_total]}
    v[$b.$r.cpu_us_per_msg]=$(calc "%.2f" "$n > 0 ? 1e6 * $cpu_s / $n : 0")
    printf '  %s CPU during the run: %.0f%% of one core, %.1f us per acknowledged message\n' \
      "$b" "${v[$b.$r.cpu_pct]}" "${v[$b.$r.cpu_us_per_msg]}"
    if [[ $b == holdfastd ]]; then
      # Group commit, from holdfastd's /metrics: messages per synced write, time per write.
      d() { calc "%.6f" "${s1[$1]:-0} - ${s0[$1]:-0}"; }
      syncs=$(d synced_batches) writes=$(d write_batches)
      v[$b.$r.msgs_per_sync]=$(calc "%.1f" "$syncs > 0 ? $(d appended_messages) / $syncs : 0")
      v[$b.$r.ms_per_write]=$(calc "%.2f" "$writes > 0 ? 1000 * $(d write_seconds) / $writes : 0")
      printf '  holdfastd store: %.0f synced writes (group commits), %.1f messages and %.2f ms each\n' \
        "$syncs" "${v[$b.$r.msgs_per_sync]}" "${v[$b.$r.ms_per_write]}"
    fi
  done
done
for b in "${brokers[@]}"; do
  v[$b.load_rss_kb]=$(status_kb "${pid[$b]}" VmRSS)
  v[$b.load_hwm_kb]=$(status_kb "${pid[$b]}" VmHWM)
done
for b in "${brokers[@]}"; do
  kill -TERM "${pid[$b]}"
  wait "${pid[$b]}" || echo "bench/mqtt.sh: $b exited with status $?" >&2
  unset "pid[$b]"
done

# ---- summary ------------------------------------------------------------------------------------
median() {  # median of round values of figure $2 for broker $1
  for ((r = 1; r <= rounds; r++)); do echo "${v[$1.$r.$2]}"; done | sort -g |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
row() {  # label, holdfastd value, mosquitto value, printf format
  local ratio=-
  if awk -v m="$3" 'BEGIN { exit !(m + 0 != 0) }'; then
    ratio=$(awk -v h="$2" -v m="$3" 'BEGIN { printf "%.2f", h / m }')
  fi
  # shellcheck disable=SC2059  # $4 is the value's format
  printf "%-52s | %12s | %12s | %9s\n" "$1" "$(printf "$4" "$2")" "$(printf "$4" "$3")" "$ratio"
}
echo
echo "Summary$([[ $rounds -gt 1 ]] && echo " (medians of $rounds rounds)"); args: ${*:-(defaults)}"
printf "%-52s | %12s | %12s | %9s\n" figure holdfastd mosquitto "ratio h/m"
printf -- '-%.0s' {1..94}; echo
fig() { row "$1" "$(median holdfastd "$2")" "$(median mosquitto "$2")" "$3"; }
fig "acknowledged msgs/s" acked_per_s "%.0f"
fig "published msgs/s" published_per_s "%.0f"
if awk -v h="$(median holdfastd received_per_s)" -v m="$(median mosquitto received_per_s)" \
  'BEGIN { exit !(h + m > 0) }'; then
  fig "received msgs/s (all subscribers)" received_per_s "%.0f"
  fig "publish -> subscriber p50 (ms)" e2e_p50_ms "%.2f"
  fig "publish -> subscriber p99 (ms)" e2e_p99_ms "%.2f"
  fig "publish -> subscriber max (ms)" e2e_max_ms "%.2f"
fi
fig "publish -> ack p50 (ms)" ack_p50_ms "%.2f"
fig "publish -> ack p99 (ms)" ack_p99_ms "%.2f"
fig "publish -> ack p99.9 (ms)" ack_p999_ms "%.2f"
fig "publish -> ack max (ms)" ack_max_ms "%.2f"
fig "broker CPU per acknowledged message (us)" cpu_us_per_msg "%.1f"
printf "%-52s | %12s | %12s | %9s\n" "holdfastd messages per fsync (group commit)" \
  "$(median holdfastd msgs_per_sync)" - -
printf "%-52s | %12s | %12s | %9s\n" "holdfastd ms per synced write (write + fsync)" \
  "$(median holdfastd ms_per_write)" - -
fig "broker CPU during the run (% of one core)" cpu_pct "%.0f"
fig "holdfast-bench CPU (% of one core)" bench_cpu_pct "%.0f"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row "RSS idle after start (MiB)" "$(mib "${v[holdfastd.idle_rss_kb]}")" \
  "$(mib "${v[mosquitto.idle_rss_kb]}")" "%s"
row "RSS with $idle_connections idle connections (MiB)" "$(mib "${v[holdfastd.conn_rss_kb]}")" \
  "$(mib "${v[mosquitto.conn_rss_kb]}")" "%s"
per_conn() { awk -v a="${v[$1.conn_rss_kb]}" -v b="${v[$1.idle_rss_kb]}" -v n="$idle_connections" \
  'BEGIN { printf "%.1f", (a - b) / n }'; }
row "RSS per idle connection (KiB)" "$(per_conn holdfastd)" "$(per_conn mosquitto)" "%s"
row "RSS after the load runs (MiB)" "$(mib "${v[holdfastd.load_rss_kb]}")" \
  "$(mib "${v[mosquitto.load_rss_kb]}")" "%s"
row "peak RSS, VmHWM (MiB)" "$(mib "${v[holdfastd.load_hwm_kb]}")" \
  "$(mib "${v[mosquitto.load_hwm_kb]}")" "%s"
ratio=$(awk -v h="$(median holdfastd acked_per_s)" -v m="$(median mosquitto acked_per_s)" \
  'BEGIN { printf "%.2f", (m > 0 ? h / m : 0) }')
verdict=$(awk -v r="$ratio" 'BEGIN { print ((r >= 1.0) ? "meets" : "misses") }')
echo
echo "Target (issue; QoS 1, 100-byte payloads, 10 publishers): Holdfast >= 1.00x Mosquitto's" \
  "acknowledged msgs/s. This run: ${ratio}x ($verdict; this run's arguments: ${*:-defaults})."
