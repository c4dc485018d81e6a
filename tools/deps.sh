#!/usr/bin/env bash
# Installs the Debian 12 packages Holdfast needs to build, test and run; does nothing when they
# are all present. Uses sudo when not root. Called by tools/run.sh, tools/test.sh and .ci/run.
set -euo pipefail

packages=(
  g++ cmake ninja-build pkg-config  # toolchain
  librocksdb-dev                    # storage/
  libjemalloc-dev                   # holdfastd's allocator
  libssl-dev                        # broker/iothub (OpenSSL::Crypto)
  libtomlplusplus-dev               # broker/config
  libcpp-httplib-dev                # broker/admin
  nlohmann-json3-dev                # broker/daemon (admin JSON)
  libcli11-dev                      # tools (command lines)
  libpaho-mqtt-dev                  # tools/bench (mqtt)
  libqpid-proton11-dev              # protocols/amqp (Qpid Proton-C)
  libcoap3-dev                      # protocols/coap (libcoap 4.3, OpenSSL build for DTLS)
  libgtest-dev libgmock-dev         # test/unit
  mosquitto-clients python3-paho-mqtt python3-qpid-proton  # test/integration: clients
                                                            # nobody here wrote
  libcoap3-bin                      # test/integration: coap-client-notls / -openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "deps: need root or sudo to install: ${missing[*]}" >&2
    exit 1
  fi
  sudo=(sudo)
fi
echo "deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null
