#!/usr/bin/env bash
# Builds Holdfast and runs every test. Usage: tools/test.sh [--preset default|asan] [ctest args]
# Installs missing Debian packages first (tools/deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

preset=default
if [ "${1:-}" = "--preset" ]; then
  preset=$2
  shift 2
fi

tools/deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
ctest --preset "$preset" "$@"
