# Helpers shared by the bench/*.sh scripts; sourced, never run. Needs $py (/usr/bin/python3).
# die MESSAGE: the script's name, the message, exit 1.
die() { echo "bench/$(basename "$0"): $*" >&2; exit 1; }
# free_port: a TCP port free on 127.0.0.1 a moment ago.
free_port() {
  $py -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# status_kb PID FIELD: a /proc/PID/status field in KiB (VmRSS, VmHWM).
status_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# cpu_ticks PID: user + system CPU time in clock ticks (comm has no spaces here).
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
clk_tck=$(getconf CLK_TCK)
# now: seconds since the epoch, with nanoseconds.
now() { date +%s.%N; }
# calc FORMAT EXPRESSION: awk's arithmetic, printed with a printf format.
calc() { awk "BEGIN { printf \"$1\", ($2) }"; }
# wait_for SECONDS DESCRIPTION COMMAND...: until COMMAND succeeds (quietly), or die.
wait_for() {
  local deadline=$((SECONDS + $1)) what=$2
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out waiting for $what"
    sleep 0.1
  done
}
