#!/usr/bin/env bash
# bench/http2.sh [SECONDS] -- mode = http2 and mode = grpc (issue 22), loopback only.
#
#  1. HTTP/2 requests/s: h2load (1 thread, CONNS connections x STREAMS concurrent streams, GET /)
#     against an HTTP/2 upstream directly, through faultline mode = http2 (no fault) and through
#     haproxy 2.6 in HTTP/2 on both sides (`proto h2` on its bind and its server line, 1 thread).
#     The upstream is a second haproxy answering every request itself (`http-request return`),
#     so that neither proxy waits on a slow server. Target: faultline >= haproxy's req/s.
#  2. gRPC unary calls/s: h2load posting one gRPC message (the 5-byte prefix + "ping") to
#     /test.Echo/Unary of tests/peers/grpc_peer.js (node @grpc/grpc-js) directly and through
#     faultline mode = grpc. Target: through >= 80% of direct.
#  3. Memory per idle HTTP/2 connection: faultline's RSS before and after IDLE client
#     connections that sent the preface and SETTINGS and then stay quiet (each one also holds
#     its upstream connection and both nghttp2 sessions).
# ROUNDS rounds (default 3) alternate the order of the targets; the verdicts use the medians.
# The proxies' own CPU per request (utime+stime) is printed too: on a shared machine it is the
# figure that measures the proxy rather than the scheduler. Read the spread of the rounds.
set -u
SECS=${1:-8}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-8}
STREAMS=${STREAMS:-10}
GCONNS=${GCONNS:-4}
IDLE=${IDLE:-500}
cd "$(dirname "$0")/.."
source bench/lib.sh
ROOT=$(pwd)
BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
for t in h2load haproxy python3; do command -v $t >/dev/null || { echo "$t not installed (scripts/install-deps.sh)"; exit 2; }; done
bench_workdir benchh2

wait_listen() {  # wait_listen PORT WHAT LOG
    for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "bench: $2 is not listening on 127.0.0.1:$1:"; tail -n 5 "$3"; exit 1
}
UP=$(free_port); PF=$(free_port); PX=$(free_port); PG=$(free_port)

# the upstream: haproxy answering itself, HTTP/2 cleartext (prior knowledge)
cat >"$W/up.cfg" <<CFG
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    timeout client 60s
    timeout server 60s
    timeout connect 5s
frontend up
    bind 127.0.0.1:$UP proto h2
    http-request return status 200 content-type text/plain string "hello from h2 upstream"
CFG
haproxy -f "$W/up.cfg" -db >"$W/up.log" 2>&1 & PIDS+=($!)
wait_listen "$UP" "haproxy (upstream)" "$W/up.log"

# the peer: haproxy in HTTP/2 on both sides, one thread
cat >"$W/ha.cfg" <<CFG
global
    nbthread 1
    maxconn 8192
defaults
    mode http
    option http-keep-alive
    timeout client 60s
    timeout server 60s
    timeout connect 5s
frontend f
    bind 127.0.0.1:$PX proto h2
    default_backend b
backend b
    server s1 127.0.0.1:$UP proto h2
CFG
haproxy -f "$W/ha.cfg" -db >"$W/ha.log" 2>&1 & PIDS+=($!)
HA_PID=$!
wait_listen "$PX" "haproxy (peer)" "$W/ha.log"

# the gRPC server (node @grpc/grpc-js, installed under $BUILD/npm-grpc by the tests)
GRPC_JS=$ROOT/$BUILD/npm-grpc
HAVE_GRPC=0
GS=
if command -v node >/dev/null && [ -f "$GRPC_JS/node_modules/@grpc/grpc-js/package.json" ]; then
    GRPC_JS=$GRPC_JS node tests/peers/grpc_peer.js server >"$W/gs.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 1 300); do grep -q '^listening ' "$W/gs.log" && break; sleep 0.02; done
    GS=$(sed -n 's/^listening //p' "$W/gs.log" | head -n1)
    [ -n "$GS" ] && HAVE_GRPC=1
fi
[ $HAVE_GRPC = 1 ] || echo "# no gRPC server (node and tests' npm-grpc needed: run tests/protocols/grpc_faults.sh once): gRPC part skipped"

{
    printf '[faultline]\nadmin = off\nlog = warn\n'
    printf '[proxy h2]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http2\n' "$PF" "$UP"
    [ $HAVE_GRPC = 1 ] && printf '[proxy g]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = grpc\n' "$PG" "$GS"
} >"$W/p.ini"
"$FL" serve "$W/p.ini" 2>"$W/fl.log" & PIDS+=($!)
FL_PID=$!
wait_listen "$PF" "faultline (http2)" "$W/fl.log"
[ $HAVE_GRPC = 1 ] && wait_listen "$PG" "faultline (grpc)" "$W/fl.log"

# one gRPC message: uncompressed, 4 bytes "ping"
printf '\x00\x00\x00\x00\x04ping' >"$W/msg"

ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
HZ=$(getconf CLK_TCK)
# h2run NAME PORT PID CONNS STREAMS [h2load args...] -> "NAME rps cpu_us_per_req"
h2run() {
    local name=$1 port=$2 pid=$3 c=$4 m=$5 out rps n t0 t1 cpu=-1
    shift 5
    h2load -t1 -c"$c" -m"$m" -D1 "$@" "http://127.0.0.1:$port${URLPATH:-/}" >/dev/null 2>&1   # warm-up
    t0=$(ticks "$pid")
    out=$(h2load -t1 -c"$c" -m"$m" -D"$SECS" "$@" "http://127.0.0.1:$port${URLPATH:-/}" 2>&1)
    t1=$(ticks "$pid")
    rps=$(echo "$out" | sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p')
    n=$(echo "$out" | sed -n 's/^status codes: \([0-9]*\) 2xx.*/\1/p')
    local bad
    bad=$(echo "$out" | sed -n 's/^requests: .* \([0-9]*\) failed, \([0-9]*\) errored.*/\1/p')
    [ -n "$pid" ] && [ "${n:-0}" -gt 0 ] && cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v r="$n" 'BEGIN { printf "%.2f", t * 1e6 / hz / r }')
    [ -n "$rps" ] && [ "${n:-0}" -gt 0 ] || rps=-1
    echo "$name $rps $cpu ${bad:-?}"
}

for r in $(seq 1 "$ROUNDS"); do
    if [ $((r % 2)) = 1 ]; then order="direct faultline haproxy"; else order="haproxy faultline direct"; fi
    {
        for t in $order; do
            case $t in
                direct) h2run direct "$UP" "" "$CONNS" "$STREAMS";;
                faultline) h2run faultline "$PF" "$FL_PID" "$CONNS" "$STREAMS";;
                haproxy) h2run haproxy "$PX" "$HA_PID" "$CONNS" "$STREAMS";;
            esac
        done
        if [ $HAVE_GRPC = 1 ]; then
            if [ $((r % 2)) = 1 ]; then order="grpc_direct grpc_faultline"; else order="grpc_faultline grpc_direct"; fi
            for t in $order; do
                case $t in
                    grpc_direct) port=$GS; pid=;;
                    grpc_faultline) port=$PG; pid=$FL_PID;;
                esac
                URLPATH=/test.Echo/Unary h2run "$t" "$port" "$pid" "$GCONNS" "$STREAMS" -d "$W/msg" \
                    -H 'content-type: application/grpc' -H 'te: trailers'
            done
        fi
    } >"$W/res.$r"
    echo "-- round $r: h2load -t1 -c$CONNS -m$STREAMS -D${SECS}s (gRPC: -c$GCONNS), load $(cut -d' ' -f1 /proc/loadavg)"
    printf '%-15s %12s %12s %8s\n' target req/s cpu_us/req failed
    awk '{printf "%-15s %12.0f %12s %8s\n", $1, $2, ($3 < 0 ? "-" : $3), $4}' "$W/res.$r"
done

cat "$W"/res.* | sort -k1,1 | awk '
    function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                       return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
    function flush() { if (name == "") return; split(c2, v2, " "); split(c3, v3, " "); printf "%s %s %s\n", name, median(v2, n), median(v3, n) }
    $1 != name { flush(); name = $1; n = 0; c2 = ""; c3 = "" }
    { n++; c2 = c2 " " $2; c3 = c3 " " $3 }
    END { flush() }' >"$W/med"

# memory per idle HTTP/2 connection
sleep 0.5
rss0=$(rss_kb "$FL_PID")
python3 - "$PF" "$IDLE" "$W/idle.ready" <<'PY' & PIDS+=($!)
import socket, sys, time
port, n, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    socks.append(s)
for s in socks:          # each got the proxy's SETTINGS: its sessions exist
    s.settimeout(5)
    s.recv(4096)
open(ready, "w").write("ok\n")
time.sleep(600)
PY
IDLE_PID=$!
for _ in $(seq 1 400); do [ -f "$W/idle.ready" ] && break; sleep 0.05; done
sleep 1
rss1=$(rss_kb "$FL_PID")
kill "$IDLE_PID" 2>/dev/null
per=$(awk -v a="$rss0" -v b="$rss1" -v n="$IDLE" 'BEGIN { printf "%.1f", (b - a) / n }')

echo "-- medians of $ROUNDS rounds"
printf '%-15s %12s %12s\n' target req/s cpu_us/req
awk '{printf "%-15s %12.0f %12s\n", $1, $2, ($3 < 0 ? "-" : $3)}' "$W/med"
echo "idle HTTP/2 connections: $IDLE, faultline RSS $rss0 -> $rss1 KiB: $per KiB per connection (client side, upstream side and both nghttp2 sessions)"
awk '
    {rps[$1] = $2; cpu[$1] = $3}
    END {
        rc = 0
        if (rps["faultline"] > 0 && rps["haproxy"] > 0) {
            s = 100 * rps["faultline"] / rps["haproxy"]
            printf "http2: faultline %.0f req/s vs haproxy %.0f req/s (%.0f%%; target >= 100%%): %s\n", rps["faultline"], rps["haproxy"], s, (s >= 100 ? "PASS" : "FAIL")
            if (cpu["faultline"] > 0 && cpu["haproxy"] > 0) printf "CPU per request: faultline %.2f us, haproxy %.2f us\n", cpu["faultline"], cpu["haproxy"]
            if (s < 100) rc = 1
        } else { print "http2: no data for faultline or haproxy: FAIL"; rc = 1 }
        if (rps["grpc_direct"] > 0 && rps["grpc_faultline"] > 0) {
            g = 100 * rps["grpc_faultline"] / rps["grpc_direct"]
            printf "grpc unary: through faultline %.0f calls/s vs direct %.0f calls/s (%.0f%%; target >= 80%%): %s\n", rps["grpc_faultline"], rps["grpc_direct"], g, (g >= 80 ? "PASS" : "FAIL")
            if (g < 80) rc = 1
        } else if ("grpc_direct" in rps) { print "grpc: no data: FAIL"; rc = 1 }
        exit rc
    }' "$W/med"
rc=$?
echo "upstream: haproxy http-request return (h2c); gRPC: tests/peers/grpc_peer.js (node $(node --version 2>/dev/null)); $(nproc) cores, load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
