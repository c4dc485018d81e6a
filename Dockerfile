# Holdfast on Debian 12, multi-stage: a build stage with the toolchain, a small runtime stage
# with only the shared libraries. No Docker engine runs on the development machines, so this
# file is not built in CI: keep its package lists in step with tools/deps.sh.
#
#   docker build -t holdfast .
#   docker run --rm -v holdfast-data:/var/lib/holdfast holdfast store --help
#
# Until holdfastd lands (issue 3) the image's entry point is the store benchmark.

FROM debian:12 AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config librocksdb-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake --preset default -DHOLDFAST_BUILD_TESTS=OFF \
 && cmake --build --preset default \
 && cmake --install build/default --prefix /opt/holdfast --strip

FROM debian:12-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      librocksdb7.8 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --user-group --home-dir /var/lib/holdfast --create-home holdfast
COPY --from=build /opt/holdfast/bin/ /usr/local/bin/
USER holdfast
WORKDIR /var/lib/holdfast
VOLUME ["/var/lib/holdfast"]
ENTRYPOINT ["holdfast-bench"]
CMD ["store", "--help"]
