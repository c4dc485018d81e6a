#!/usr/bin/env bash
# Runs the AMQP 1.0 load generator (`holdfast-bench amqp`) side by side against holdfastd
# (durable: sync = fsync, a transfer is settled `accepted` once its message is fsync'd) and
# Debian's RabbitMQ with its AMQP 1.0 plugin (persistent messages: durable queues and
# header durable=true, so RabbitMQ confirms, i.e. settles `accepted`, once the message is on disk),
# both started here on free ports of 127.0.0.1, and prints the figures with the ratio
# Holdfast/RabbitMQ:
#   - msgs/s sent, accepted and received; transfer-to-accepted and end-to-end latency (from
#     holdfast-bench amqp)
#   - broker CPU time per accepted message and per second (/proc/PID/stat, over each load run);
#     for holdfastd also messages per group commit and time per synced write (its /metrics), and
#     before the runs what one fdatasync costs in the store's directory
#   - RSS of each broker idle (after start) and after the load (VmRSS, VmHWM)
#   - after each RabbitMQ run, its queues' durable flag and persistent message count (the proof
#     that the messages it accepted were persistent)
# The target (issue 4): 10 senders, 100-byte payloads, window 100: Holdfast >= 2.0x RabbitMQ's
# accepted msgs/s. Nothing is asserted: the exit status is 0 unless a run could not be made.
#
# Addresses: holdfastd gets `bench` (routed to the durable queue `bench`; with
# --per-sender-address `bench/{i}`, routed to `bench/{i}`); RabbitMQ gets `/queue/bench` (or
# `/queue/bench-{i}`), its classic queues declared durable beforehand. Every queue is purged
# before each run, so each run starts from empty queues. Both brokers get SASL PLAIN guest/guest.
# RabbitMQ runs as an ad-hoc node (its own node name, ports, epmd port, data and log directories
# in the temp dir; the system service and its files are not touched) with the Erlang VM's
# scheduler busy-waiting off (+sbwt none, as RabbitMQ advises on hosts that run other work:
# the load generator shares the cores), unless RABBITMQ_BUSY_WAIT=1.
#
# Arguments go to `holdfast-bench amqp` for every load run (not --host/--port/--label/--kv/
# --address/--durable/--user/--password):
#   bench/amqp.sh                                  # 10 senders, window 100, 100 B, 10 s (+1 s warm-up)
#   bench/amqp.sh --receivers 2                    # with 2 receivers competing for the messages
#   bench/amqp.sh --per-sender-address             # one queue per sender
#   ROUNDS=3 bench/amqp.sh                         # 3 load runs per broker, alternating; medians
# Environment: BUILD_DIR (default: build/bench), BUILD_TYPE (default: RelWithDebInfo), JOBS
# (default: 2), ROUNDS (default: 1), HOLDFAST_SYNC=os (holdfastd settles once the OS has the
# write, no fsync: for diagnosis), RABBITMQ_BUSY_WAIT=1, TMPDIR (where both stores go: keep it
# on the disk you mean to measure, not tmpfs). Ports are picked free; the temp dir is removed at
# exit.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}
rounds=${ROUNDS:-1}
py=/usr/bin/python3
rmq_bin=/usr/lib/rabbitmq/bin  # the real scripts, not Debian's wrappers that switch user

# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
[[ -f /usr/include/CLI/CLI.hpp ]] || die "holdfast-bench needs CLI11: apt-get install libcli11-dev"
[[ -f /usr/include/proton/proactor.h ]] ||
  die "holdfast-bench needs Qpid Proton-C: apt-get install libqpid-proton11-dev"
[[ -x $rmq_bin/rabbitmq-server ]] || die "needs RabbitMQ: apt-get install rabbitmq-server"
ls -d /usr/lib/rabbitmq/lib/rabbitmq_server-*/plugins/rabbitmq_amqp1_0-* >/dev/null 2>&1 ||
  die "RabbitMQ has no rabbitmq_amqp1_0 plugin"
command -v curl >/dev/null || die "needs curl"
[[ -x $py ]] || die "needs $py"

# The queue names depend on two of the load's options.
senders=10 per_sender=0
args=("$@")
for ((k = 0; k < ${#args[@]}; k++)); do
  case ${args[k]} in
    --senders) senders=${args[k + 1]:-10} ;;
    --senders=*) senders=${args[k]#*=} ;;
    --per-sender-address) per_sender=1 ;;
  esac
done

if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfast-bench holdfastd
bench=$build/tools/bench/holdfast-bench
holdfastd=$build/broker/daemon/holdfastd

tmp=$(mktemp -d "${TMPDIR:-/tmp}/holdfast-amqp-bench.XXXXXX")
declare -A pid=() port=() v=()
rmq_node=hfbench-$$@localhost
cleanup() {
  if [[ -n ${pid[rabbitmq]:-} ]]; then
    rmqctl stop >/dev/null 2>&1 || kill -TERM "${pid[rabbitmq]}" 2>/dev/null || true
  elif [[ -s ${r:-/nonexistent}/pid ]]; then  # started, but not ready in time
    kill -TERM "$(cat "$r/pid")" 2>/dev/null || true
  fi
  if [[ -n ${pid[holdfastd]:-} ]]; then kill -TERM "${pid[holdfastd]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  # The epmd that this script's Erlang VMs started on their own port.
  if [[ -n ${port[epmd]:-} ]]; then epmd -port "${port[epmd]}" -kill >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
if [[ $(stat -f -c %T "$tmp") == tmpfs ]]; then
  echo "bench/amqp.sh: warning: $tmp is on tmpfs: fsync costs nothing there" >&2
fi


# What one fdatasync costs where the stores go.
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

# ---- holdfastd -----------------------------------------------------------------------------------
port[holdfastd]=$(free_port)
admin_port=$(free_port)
mkdir -p "$tmp/holdfastd"
cat >"$tmp/holdfastd/holdfast.toml" <<EOF
upstream = []

[store]
path = "$tmp/holdfastd/store"
sync = "${HOLDFAST_SYNC:-fsync}"

[[listener]]
protocol = "amqp"
bind = "127.0.0.1"
port = ${port[holdfastd]}

[[route]]
pattern = "bench"
queue = "bench"

[[route]]
pattern = "bench/+"
queue = "bench/{1}"

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
declare -A s0=() s1=()
# shellcheck disable=SC2034  # `into` is a nameref to the caller's array
store_metrics() {  # store_metrics ARRAY: holdfastd's holdfast_store_*_total counters
  local -n into=$1
  local k val
  while read -r k val; do into["$k"]=$val; done < <(curl -fs "http://127.0.0.1:$admin_port/metrics" |
    awk '$1 ~ /^holdfast_store_[a-z_]+_total$/ { k = $1; sub(/^holdfast_store_/, "", k);
                                                sub(/_total$/, "", k); print k, $2 }')
}
holdfast_queues() {  # name depth, one queue a line
  curl -fs "http://127.0.0.1:$admin_port/api/queues" |
    $py -c 'import json, sys; [print(q["name"], q["depth"]) for q in json.load(sys.stdin)]'
}
holdfast_purge() {
  local q
  for q in $(holdfast_queues | awk '$2 > 0 { print $1 }'); do
    curl -fs -X POST -d '' "http://127.0.0.1:$admin_port/api/queues/${q//\//%2F}/purge" >/dev/null ||
      die "holdfastd: cannot purge queue $q"
  done
}

# ---- RabbitMQ, an ad-hoc node ---------------------------------------------------------------------
port[rabbitmq]=$(free_port)
port[dist]=$(free_port)
port[ctl]=$(free_port)   # the CLI's own distribution port (its default range may be taken)
port[epmd]=$(free_port)
r=$tmp/rabbitmq
mkdir -p "$r/home"
cat >"$r/rabbitmq.conf" <<EOF
log.console = false
log.file.level = warning
EOF
echo '[rabbitmq_amqp1_0].' >"$r/enabled_plugins"
: >"$r/rabbitmq-env.conf"  # instead of /etc/rabbitmq/rabbitmq-env.conf
erl_args="-kernel inet_dist_use_interface {127,0,0,1}"
[[ ${RABBITMQ_BUSY_WAIT:-0} == 1 ]] || erl_args+=" +sbwt none +sbwtdcpu none +sbwtdio none"
# The CLI tools get only what they need: with the server's RABBITMQ_NODE_PORT/DIST_PORT they
# would pick their own distribution port from the server's range.
rmqctl() {
  env -i PATH=/usr/bin:/bin HOME="$r/home" ERL_EPMD_PORT="${port[epmd]}" \
    RABBITMQ_CONF_ENV_FILE="$r/rabbitmq-env.conf" RABBITMQ_CTL_DIST_PORT_MIN="${port[ctl]}" \
    RABBITMQ_CTL_DIST_PORT_MAX="${port[ctl]}" "$rmq_bin/rabbitmqctl" -q -n "$rmq_node" "$@"
}
t0=$(now)
env HOME="$r/home" ERL_EPMD_PORT="${port[epmd]}" RABBITMQ_NODENAME="$rmq_node" \
  RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT="${port[rabbitmq]}" \
  RABBITMQ_DIST_PORT="${port[dist]}" RABBITMQ_MNESIA_BASE="$r/mnesia" RABBITMQ_LOG_BASE="$r/log" \
  RABBITMQ_CONFIG_FILE="$r/rabbitmq.conf" RABBITMQ_ENABLED_PLUGINS_FILE="$r/enabled_plugins" \
  RABBITMQ_CONF_ENV_FILE="$r/rabbitmq-env.conf" RABBITMQ_PID_FILE="$r/pid" \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="$erl_args" \
  "$rmq_bin/rabbitmq-server" >"$r/out" 2>&1 &
rmqctl wait "$r/pid" --timeout 120 >/dev/null 2>&1 ||
  { tail -c 2000 "$r/out" >&2; die "RabbitMQ did not start (log: above)"; }
pid[rabbitmq]=$(cat "$r/pid")  # the beam.smp process
v[rabbitmq.ready_s]=$(calc "%.2f" "$(now) - $t0")
rmq_queues=(bench)
if [[ $per_sender == 1 ]]; then
  rmq_queues=()
  for ((i = 0; i < senders; i++)); do rmq_queues+=("bench-$i"); done
fi
for q in "${rmq_queues[@]}"; do
  rmqctl eval "{new, _} = rabbit_amqqueue:declare(rabbit_misc:r(<<\"/\">>, queue, <<\"$q\">>),
               true, false, [], none, <<\"guest\">>), ok." >/dev/null ||
    die "RabbitMQ: cannot declare the durable queue $q"
done
rmq_purge() {
  local q
  for q in "${rmq_queues[@]}"; do rmqctl purge_queue "$q" >/dev/null || die "RabbitMQ: cannot purge $q"; done
}
echo "holdfastd $("$holdfastd" --version | awk '{print $2}') (pid ${pid[holdfastd]}, amqp port" \
  "${port[holdfastd]}, store $tmp/holdfastd/store, sync ${HOLDFAST_SYNC:-fsync}) ready in" \
  "${v[holdfastd.ready_s]} s; RabbitMQ $(rmqctl eval 'rabbit_misc:version().' | tr -d '"')" \
  "(pid ${pid[rabbitmq]}, node $rmq_node, port ${port[rabbitmq]}, rabbitmq_amqp1_0, queues" \
  "${rmq_queues[0]}$([[ ${#rmq_queues[@]} -gt 1 ]] && echo "..${rmq_queues[-1]}") durable," \
  "Erlang args: $erl_args) ready in ${v[rabbitmq.ready_s]} s"

sleep 1
brokers=(holdfastd rabbitmq)
for b in "${brokers[@]}"; do v[$b.idle_rss_kb]=$(status_kb "${pid[$b]}" VmRSS); done

# ---- load runs, alternating brokers -----------------------------------------------------------
for ((round = 1; round <= rounds; round++)); do
  for b in "${brokers[@]}"; do
    echo
    if [[ $rounds -gt 1 ]]; then echo "=== round $round/$rounds: $b"; fi
    if [[ $b == holdfastd ]]; then
      holdfast_purge
      store_metrics s0
      address=bench
      [[ $per_sender == 1 ]] && address='bench/{i}'
    else
      rmq_purge
      address=/queue/bench
      [[ $per_sender == 1 ]] && address='/queue/bench-{i}'
    fi
    c0=$(cpu_ticks "${pid[$b]}")
    t0=$(now)
    out="$tmp/$b.run$round.txt"
    status=0
    "$bench" amqp --host 127.0.0.1 --port "${port[$b]}" --label "$b" --kv --durable \
      --user guest --password guest --address "$address" "$@" >"$out" || status=$?
    t1=$(now)
    c1=$(cpu_ticks "${pid[$b]}")
    grep -v '^result\.' "$out"
    [[ $status -eq 0 ]] || echo "  ($b: holdfast-bench amqp exited with status $status)"
    grep -q '^result\.' "$out" || die "$b: no figures from holdfast-bench"
    while IFS='=' read -r k val; do v[$b.$round.${k#result.}]=$val; done < <(grep '^result\.' "$out")
    cpu_s=$(calc "%.6f" "($c1 - $c0) / $clk_tck")
    v[$b.$round.cpu_pct]=$(calc "%.1f" "100 * $cpu_s / ($t1 - $t0)")
    n=${v[$b.$round.accepted_total]}
    v[$b.$round.cpu_us_per_msg]=$(calc "%.2f" "$n > 0 ? 1e6 * $cpu_s / $n : 0")
    printf '  %s CPU during the run: %.0f%% of one core, %.1f us per accepted message\n' \
      "$b" "${v[$b.$round.cpu_pct]}" "${v[$b.$round.cpu_us_per_msg]}"
    if [[ $b == holdfastd ]]; then
      store_metrics s1
      # Group commit, from holdfastd's /metrics: messages per synced write, time per write.
      d() { calc "%.6f" "${s1[$1]:-0} - ${s0[$1]:-0}"; }
      syncs=$(d synced_batches) writes=$(d write_batches)
      v[$b.$round.msgs_per_sync]=$(calc "%.1f" "$syncs > 0 ? $(d appended_messages) / $syncs : 0")
      v[$b.$round.ms_per_write]=$(calc "%.2f" "$writes > 0 ? 1000 * $(d write_seconds) / $writes : 0")
      printf '  holdfastd store: %.0f synced writes (group commits), %.1f messages and %.2f ms each;' \
        "$syncs" "${v[$b.$round.msgs_per_sync]}" "${v[$b.$round.ms_per_write]}"
      echo " queues now: $(holdfast_queues | awk '{ printf "%s%s=%s", sep, $1, $2; sep = ", " }')"
    else
      echo "  RabbitMQ queues now (name, durable, messages, persistent messages):" \
        "$(rmqctl list_queues name durable messages messages_persistent --no-table-headers |
          awk '{ printf "%s%s %s %s %s", sep, $1, $2, $3, $4; sep = "; " }')"
    fi
  done
done
for b in "${brokers[@]}"; do
  v[$b.load_rss_kb]=$(status_kb "${pid[$b]}" VmRSS)
  v[$b.load_hwm_kb]=$(status_kb "${pid[$b]}" VmHWM)
done
kill -TERM "${pid[holdfastd]}"
wait "${pid[holdfastd]}" || echo "bench/amqp.sh: holdfastd exited with status $?" >&2
unset "pid[holdfastd]"
rmqctl stop >/dev/null 2>&1 || echo "bench/amqp.sh: rabbitmqctl stop failed" >&2
unset "pid[rabbitmq]"

# ---- summary ------------------------------------------------------------------------------------
median() {  # median of round values of figure $2 for broker $1
  for ((round = 1; round <= rounds; round++)); do echo "${v[$1.$round.$2]}"; done | sort -g |
    awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
row() {  # label, holdfastd value, rabbitmq value, printf format
  local ratio=-
  if awk -v m="$3" 'BEGIN { exit !(m + 0 != 0) }'; then
    ratio=$(awk -v h="$2" -v m="$3" 'BEGIN { printf "%.2f", h / m }')
  fi
  # shellcheck disable=SC2059  # $4 is the value's format
  printf "%-52s | %12s | %12s | %9s\n" "$1" "$(printf "$4" "$2")" "$(printf "$4" "$3")" "$ratio"
}
echo
echo "Summary$([[ $rounds -gt 1 ]] && echo " (medians of $rounds rounds)"); args: ${*:-(defaults)}"
printf "%-52s | %12s | %12s | %9s\n" figure holdfastd rabbitmq "ratio h/r"
printf -- '-%.0s' {1..94}; echo
fig() { row "$1" "$(median holdfastd "$2")" "$(median rabbitmq "$2")" "$3"; }
fig "accepted msgs/s" accepted_per_s "%.0f"
fig "sent msgs/s" sent_per_s "%.0f"
if awk -v h="$(median holdfastd received_per_s)" -v m="$(median rabbitmq received_per_s)" \
  'BEGIN { exit !(h + m > 0) }'; then
  fig "received msgs/s (all receivers)" received_per_s "%.0f"
  fig "transfer -> receiver p50 (ms)" e2e_p50_ms "%.2f"
  fig "transfer -> receiver p99 (ms)" e2e_p99_ms "%.2f"
  fig "transfer -> receiver max (ms)" e2e_max_ms "%.2f"
fi
fig "transfer -> accepted p50 (ms)" accept_p50_ms "%.2f"
fig "transfer -> accepted p99 (ms)" accept_p99_ms "%.2f"
fig "transfer -> accepted p99.9 (ms)" accept_p999_ms "%.2f"
fig "transfer -> accepted max (ms)" accept_max_ms "%.2f"
fig "broker CPU per accepted message (us)" cpu_us_per_msg "%.1f"
printf "%-52s | %12s | %12s | %9s\n" "holdfastd messages per fsync (group commit)" \
  "$(median holdfastd msgs_per_sync)" - -
printf "%-52s | %12s | %12s | %9s\n" "holdfastd ms per synced write (write + fsync)" \
  "$(median holdfastd ms_per_write)" - -
fig "broker CPU during the run (% of one core)" cpu_pct "%.0f"
fig "holdfast-bench CPU (% of one core)" bench_cpu_pct "%.0f"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
row "RSS idle after start (MiB)" "$(mib "${v[holdfastd.idle_rss_kb]}")" \
  "$(mib "${v[rabbitmq.idle_rss_kb]}")" "%s"
row "RSS after the load runs (MiB)" "$(mib "${v[holdfastd.load_rss_kb]}")" \
  "$(mib "${v[rabbitmq.load_rss_kb]}")" "%s"
row "peak RSS, VmHWM (MiB)" "$(mib "${v[holdfastd.load_hwm_kb]}")" \
  "$(mib "${v[rabbitmq.load_hwm_kb]}")" "%s"
errors=0
for b in "${brokers[@]}"; do
  for ((round = 1; round <= rounds; round++)); do
    for k in rejected released unsettled link_errors connection_errors; do
      errors=$((errors + ${v[$b.$round.$k]:-0}))
    done
  done
done
[[ $errors -eq 0 ]] || echo "Errors (rejected, released, unsettled, link or connection): $errors; see the runs above."
ratio=$(awk -v h="$(median holdfastd accepted_per_s)" -v m="$(median rabbitmq accepted_per_s)" \
  'BEGIN { printf "%.2f", (m > 0 ? h / m : 0) }')
verdict=$(awk -v r="$ratio" 'BEGIN { print ((r >= 2.0) ? "meets" : "misses") }')
echo
echo "Target (issue 4; 10 senders, 100-byte payloads, window 100, durable): Holdfast >= 2.00x" \
  "RabbitMQ's accepted msgs/s. This run: ${ratio}x ($verdict; this run's arguments: ${*:-defaults})."
