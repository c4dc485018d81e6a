#!/usr/bin/env bash
# Builds holdfast-bench if needed and runs the store benchmark (`holdfast-bench store`): group
# commit vs one sync per message, bytes written per payload byte while draining, and reopen
# time and peak RSS of a store holding 10 M messages. Prints the figures and a summary.
#
# Arguments go to `holdfast-bench store` (see `holdfast-bench store --help`), e.g.
#   bench/store.sh                               # the full run (fills 10 M messages, ~2 min)
#   bench/store.sh --fill-messages 1000000 --append-seconds 5   # a quick run
#   bench/store.sh --dir /var/tmp/hf-bench --keep  # keep the filled store: the next run skips the fill
# Environment: BUILD_DIR (default: build/bench), BUILD_TYPE (default: RelWithDebInfo),
# JOBS (default: 2).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build/bench}

if [[ ! -f /usr/include/CLI/CLI.hpp ]]; then
  echo "bench/store.sh: holdfast-bench needs CLI11: apt-get install libcli11-dev" >&2
  exit 1
fi

if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DHOLDFAST_BUILD_TESTS=OFF
fi
cmake --build "$build" -j"${JOBS:-2}" --target holdfast-bench

exec "$build/tools/bench/holdfast-bench" store "$@"
