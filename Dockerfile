# Holdfast on Debian 12, multi-stage: a build stage with the toolchain, a small runtime stage
# with only the shared libraries, a non-root user and the store on a volume. No Docker engine
# runs on the development machines, so this file is not built in CI: keep its package lists in
# step with tools/deps.sh (and `ldd holdfastd`).
#
#   docker build -t holdfast .
#   docker run -p 1883:1883 -v holdfast-data:/var/lib/holdfast holdfast
#   docker run -v $PWD/my.toml:/etc/holdfast/holdfast.toml ... holdfast --config /etc/holdfast/holdfast.toml

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config librocksdb-dev libssl-dev libtomlplusplus-dev \
      libcpp-httplib-dev nlohmann-json3-dev libcli11-dev libpaho-mqtt-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset default -DHOLDFAST_BUILD_TESTS=OFF \
 && cmake --build --preset default --target holdfastd \
 && install -D -s build/default/broker/daemon/holdfastd /opt/holdfast/bin/holdfastd \
 && install -D -m 0644 conf/holdfast.toml /opt/holdfast/etc/holdfast.toml

FROM debian:12-slim
# RocksDB is linked statically; these are its and the daemon's shared libraries.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libsnappy1v5 zlib1g libbz2-1.0 liblz4-1 libzstd1 libssl3 libtomlplusplus3 \
      libcpp-httplib0.11 libbrotli1 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/holdfast --create-home holdfast
COPY --from=build /opt/holdfast/bin/holdfastd /usr/local/bin/holdfastd
COPY --from=build /opt/holdfast/etc/holdfast.toml /etc/holdfast/holdfast.example.toml
USER holdfast
# The default configuration keeps the store in ./data/store, i.e. on the volume.
WORKDIR /var/lib/holdfast
VOLUME ["/var/lib/holdfast"]
EXPOSE 1883 5672 5683/udp
ENTRYPOINT ["holdfastd"]
