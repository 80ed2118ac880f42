#!/usr/bin/env bash
# scripts/install-deps.sh [demo] -- idempotent: installs (apt-get) whatever the build, the demo
# and the tests need and is missing. Run as root on Debian 12. Does nothing when all is present.
#
# `demo` (make demo, scripts/demo.sh) installs only what building and the demo need, so the
# README's first command does not wait for the tests' toolchains; without it (make deps, make
# test, make asan) everything is installed:
# clang, libclang-rt-14-dev: the sanitizer and fuzz builds (`make asan`, `make fuzz`; the
# runtimes are only a Recommends of clang, which --no-install-recommends leaves out).
# golang-go (Go 1.19, standard library only) builds examples/go-service for tests/run/go_bugs.sh;
# golang-github-lib-pq-dev (lib/pq, GOPATH mode): the database/sql peer of tests/faults/stale_idle_go.sh.
# strace: tests/faults/latency_release.sh watches the release path with it (it skips without).
# libxml2-utils: xmllint, which the verifier's tests use to validate the JUnit XML they write.
# python3-urllib3: the retrying client of tests/verify/retries.sh.
# bind9-dnsutils (dig), python3-dnspython: the real resolvers of the mode = dns tests
# (tests/protocols/dns_*.sh).
# libssl-dev (OpenSSL 3): the TLS transport; openssl: the TLS tests make certificates and use
# s_client; haproxy: the peer of bench/tls.sh.
# libnghttp2-dev: HTTP/2 and gRPC modes (nghttp2 owns framing, HPACK and flow control);
# nghttp2-client: nghttp and h2load, the HTTP/2 clients of the tests and of bench/http2.sh;
# python3-grpcio: a gRPC client and server of the grpc tests (Debian's, beside node's @grpc/grpc-js).
# ruby, ruby-minitest, ruby-webmock: Toxiproxy's own Ruby client suite (toxiproxy-ruby, vendored in
# tests/fixtures/toxiproxy-ruby) run against `toxiproxy-server` by tests/control/toxiproxy_suite.sh.
set -eu
PKGS="build-essential pkg-config libevent-dev libhiredis-dev libinih-dev libpq-dev
libhttp-parser-dev libjansson-dev libssl-dev libnghttp2-dev openssl redis-server redis-tools postgresql postgresql-client curl jq
procps iproute2 ca-certificates python3"
TEST_PKGS="clang libclang-rt-14-dev golang-go golang-github-lib-pq-dev strace libxml2-utils python3-urllib3 haproxy nghttp2-client python3-grpcio
ruby ruby-minitest ruby-webmock bind9-dnsutils python3-dnspython python3-requests python3-yaml"
case "${1:-}" in
demo) ;;
"") PKGS="$PKGS $TEST_PKGS" ;;
*) echo "usage: $0 [demo]" >&2; exit 2 ;;
esac
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
# Commands the suite runs that may come from elsewhere (a nodejs from another source brings its
# own npm and conflicts with Debian's): their Debian package is installed only when the command
# is missing. node, npm: tests/control/node_client.sh drives the admin API with the real npm
# package toxiproxy-node-client (node >= 18; Debian 12 has 18). man: tests/run/packaging.sh
# renders the man pages. chromium: tests/hardening/report_xss.sh opens report.html in it
# (headless) to show that no name in it runs as script. Without them those cases are skipped, not failed: a bare machine would
# pass `make test` having run less of it.
[ "${1:-}" = demo ] || for c in node:nodejs npm:npm man:man-db chromium:chromium; do
    command -v "${c%%:*}" >/dev/null 2>&1 || missing="$missing ${c#*:}"
done
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
    exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086  # one word per package
apt-get install -y -qq --no-install-recommends $missing >/dev/null
# Debian starts the packaged servers; the tests run their own throwaway ones on unix sockets.
