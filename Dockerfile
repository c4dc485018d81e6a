# Holdfast on Debian 12, multi-stage: a build stage with the toolchain, a small runtime stage
# with only the shared libraries, a non-root user and the store on a volume. No Docker engine
# runs on the development machines, so this file is not built in CI: keep its package lists in
# step with tools/deps.sh (and `ldd holdfastd`).
#
#   docker build -t holdfast .
#   docker run -p 1883:1883 -p 5672:5672 -p 5683:5683/udp -v holdfast-data:/var/lib/holdfast holdfast
#   docker run -v $PWD/my.toml:/etc/holdfast/holdfast.toml ... holdfast --config /etc/holdfast/holdfast.toml
# The image also carries holdfastctl, holdfast-hubsim (the IoT Hub emulator) and holdfast-devsim.
# Kubernetes: conf/kubernetes/holdfast.yaml; systemd without containers: conf/holdfastd.service.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config librocksdb-dev libssl-dev libtomlplusplus-dev \
      libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libpaho-mqtt-dev libqpid-proton11-dev \
      libcoap3-dev libjemalloc-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset default -DHOLDFAST_BUILD_TESTS=OFF \
 && cmake --build --preset default --target holdfastd holdfastctl holdfast-hubsim holdfast-devsim \
 && install -D -s build/default/broker/daemon/holdfastd /opt/holdfast/bin/holdfastd \
 && install -D -s build/default/tools/ctl/holdfastctl /opt/holdfast/bin/holdfastctl \
 && install -D -s build/default/tools/hubsim/holdfast-hubsim /opt/holdfast/bin/holdfast-hubsim \
 && install -D -s build/default/tools/devsim/holdfast-devsim /opt/holdfast/bin/holdfast-devsim \
 && install -D -m 0644 conf/holdfast.toml /opt/holdfast/etc/holdfast.toml

FROM debian:12-slim
# RocksDB is linked statically; these are its and the daemon's shared libraries.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libsnappy1v5 zlib1g libbz2-1.0 liblz4-1 libzstd1 libssl3 libtomlplusplus3 \
      libcpp-httplib0.11 libbrotli1 libqpid-proton11 libcoap3 libjemalloc2 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/holdfast --create-home holdfast
COPY --from=build /opt/holdfast/bin/ /usr/local/bin/
COPY --from=build /opt/holdfast/etc/holdfast.toml /etc/holdfast/holdfast.example.toml
USER holdfast
# The default configuration keeps the store in ./data/store, i.e. on the volume.
WORKDIR /var/lib/holdfast
VOLUME ["/var/lib/holdfast"]
EXPOSE 1883 5672 5683/udp
# /healthz: the io loop answers (the admin endpoint listens on 127.0.0.1:8088 by default).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD curl -fsS http://127.0.0.1:8088/healthz >/dev/null || exit 1
ENTRYPOINT ["holdfastd"]
