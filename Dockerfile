# Dockerfile -- faultline in a container: a multi-stage build on debian:12-slim.
#
#   docker build -t faultline .
#   docker run --rm -v "$PWD/profiles:/etc/faultline:ro" faultline serve /etc/faultline/passthrough.ini
#
# (Publishing 8474 with -p reaches the admin API only if the profile binds it to 0.0.0.0 with an
# admin_token: the default 127.0.0.1:8474 is the container's own loopback.)
#
# The runtime image holds the binary, its shared libraries, redis-server (for `faultline run`'s
# embedded record), the plain profiles under /usr/local/share/faultline/profiles and the catalog
# of scenarios under /usr/local/share/faultline/profiles/scenarios. Profiles are mounted at
# /etc/faultline (the image's default holds profiles/ of the tree, scenarios/ included). It runs
# as the unprivileged user `faultline`.
# HEALTHCHECK asks the admin API's /healthz, so the profile must keep the admin API on and
# reachable inside the container (`[faultline] admin = 0.0.0.0:8474` plus `admin_token`, or
# the default 127.0.0.1:8474, which the check reaches from inside the container).
# Each proxied connection holds two descriptors: for thousands of concurrent connections raise
# the container's limit, e.g. `docker run --ulimit nofile=65536:65536 ...` (docs/profiles.md).

# ---- build ----
FROM debian:12-slim AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential pkg-config \
      libevent-dev libhiredis-dev libinih-dev libpq-dev libhttp-parser-dev libjansson-dev libssl-dev libnghttp2-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# everything `make` and `make install` read: install also copies README.md and docs/*.md
# (tests/run/packaging.sh replays this stage's make install from exactly these paths)
COPY Makefile README.md ./
COPY docs ./docs
COPY common ./common
COPY proxy ./proxy
COPY faults ./faults
COPY record ./record
COPY control ./control
COPY verify ./verify
COPY run ./run
COPY cli ./cli
COPY examples ./examples
COPY tests/peers ./tests/peers
COPY profiles ./profiles
COPY man ./man
COPY scripts ./scripts
RUN make -j"$(nproc)" build/faultline build/examples/service \
 && make install PREFIX=/usr/local DESTDIR=/out \
 && install -m 0755 build/examples/service /out/usr/local/bin/faultline-example-service \
 && install -d /out/usr/local/share/man/man1 /out/usr/local/share/man/man5 \
 && install -m 0644 man/faultline.1 /out/usr/local/share/man/man1/ \
 && install -m 0644 man/faultline-profile.5 /out/usr/local/share/man/man5/

# ---- runtime ----
FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libevent-2.1-7 libhiredis0.14 libinih1 libpq5 libhttp-parser2.9 libjansson4 libssl3 libnghttp2-14 \
      redis-server curl ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 faultline \
 && useradd --system --uid 10001 --gid faultline --home-dir /var/lib/faultline --create-home \
      --shell /usr/sbin/nologin faultline \
 && install -d -o faultline -g faultline /var/lib/faultline/runs \
 && install -d /etc/faultline
COPY --from=build /out/usr/local /usr/local
COPY --from=build /src/profiles /etc/faultline
USER faultline:faultline
WORKDIR /var/lib/faultline
VOLUME ["/etc/faultline", "/var/lib/faultline/runs"]
# the admin API (loopback by default; see the comment at the top) and a typical proxy port
EXPOSE 8474
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS -m 2 http://127.0.0.1:8474/healthz || exit 1
ENTRYPOINT ["/usr/local/bin/faultline"]
CMD ["serve", "/etc/faultline/passthrough.ini"]
