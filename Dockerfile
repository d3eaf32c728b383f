# golden itself as a container image, from a binary built beforehand; the
# build copies files only and needs no network:
#
#   cargo build --release --locked
#   DOCKER_BUILDKIT=0 docker build --build-arg BASE=debian:bookworm-slim \
#     -t registry.local:5000/tools/golden:0.1.0 .
#
# The binary links glibc dynamically, so BASE must carry a glibc at least as
# new as the one of the machine that built it (build on Debian 12, run on
# debian:bookworm-slim or newer) and a /bin/sh for CI jobs that run scripts
# in the image. Registries signed by a public CA need the base's CA bundle
# (/etc/ssl/certs); golden falls back to its built-in WebPKI roots when the
# base has none. BINARY picks another build (target/debug/golden, a
# cross-compiled target/<triple>/release/golden).
ARG BASE=debian:bookworm-slim
FROM ${BASE}
ARG BINARY=target/release/golden
COPY ${BINARY} /usr/local/bin/golden
ENTRYPOINT ["/usr/local/bin/golden"]
CMD ["--help"]
