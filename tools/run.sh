#!/usr/bin/env bash
# Builds Holdfast and runs holdfastd on its default configuration (conf/holdfast.toml explains
# every setting): MQTT on 1883, messages stored in ./data/store, one durable queue per device
# for devices/{id}/messages/events, metrics on http://127.0.0.1:8088/metrics.
# Installs missing Debian packages first (tools/deps.sh). Arguments go to holdfastd, e.g.
#   tools/run.sh --config my.toml
# Stop it with Ctrl-C: it shuts down cleanly, keeping every stored message.
set -euo pipefail
cd "$(dirname "$0")/.."

tools/deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target holdfastd
exec build/default/broker/daemon/holdfastd "$@"
