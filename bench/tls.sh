#!/usr/bin/env bash
# bench/tls.sh -- faultline terminating and originating TLS (tcp mode, `tls = terminate`,
# `upstream_tls = on`) against haproxy doing the same (mode tcp, `bind ... ssl crt`, `server ...
# ssl verify required`), both in front of one local nginx serving HTTPS, in alternating rounds;
# modelled on bench/passthrough.sh.
#
# Both proxies use the same certificate (EC P-256, made here), the same TLS 1.3 suites and TLS 1.2
# ciphers, verify nginx's certificate against it, and resume their sessions with nginx (haproxy
# does by default; faultline keeps the upstream's last session).
#
# Measures, per target and round:
#   keep-alive      wrk -t2 -c50 over keep-alive TLS connections: requests/s, p50, p99
#   new handshakes  wrk -t2 -c50 with "Connection: close": each request a new TLS connection
#                   (wrk does not resume sessions: a full handshake each): requests/s
#   idle            RSS growth of a fresh proxy process with IDLE idle TLS connections (each made
#                   one request first, so both sides are connected): KiB per connection
# and writes the medians of ROUNDS rounds to bench/results.md (section "tls"), with the date,
# the machine and its load. Not a timed test: run it by hand on a quiet machine.
#
# Environment: ROUNDS (3), DUR (seconds per wrk run, 5), IDLE (2000), NOTE (a line added to the
# results, e.g. "machine shared with other jobs").
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
IDLE=${IDLE:-2000}
NOTE=${NOTE:-}
BUILD=${BUILD:-build}
FL=$PWD/$BUILD/faultline

source bench/lib.sh
bench_need nginx:nginx-light haproxy:haproxy wrk:wrk
[ -x "$FL" ] || make -s all BUILD="$BUILD"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_workdir fltlsbench

# one certificate for everyone: nginx's, and what both proxies serve
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" >/dev/null 2>&1
cat "$W/cert.pem" "$W/key.pem" >"$W/both.pem"
SUITES="TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256"
CIPHERS="ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-CHACHA20-POLY1305"
NP=$(free_port); FP=$(free_port); HP=$(free_port)

mkdir -p "$W/nginx"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $W/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 20000; use epoll; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
    uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    server {
        listen 127.0.0.1:$NP ssl backlog=8192;
        ssl_certificate $W/cert.pem;
        ssl_certificate_key $W/key.pem;
        ssl_session_cache shared:S:10m;
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF
nginx -c "$W/nginx.conf" -p "$W/nginx" &
PIDS+=($!)
wait_port "$NP" || { echo "nginx did not start: $(cat "$W/nginx/error.log")"; exit 1; }

cat >"$W/fl.ini" <<EOF
[faultline]
admin = off
log = warn
[proxy web]
listen = 127.0.0.1:$FP
upstream = 127.0.0.1:$NP
tls = terminate
tls_cert = $W/cert.pem
tls_key = $W/key.pem
upstream_tls = on
upstream_ca = $W/cert.pem
upstream_sni = localhost
EOF
cat >"$W/haproxy.cfg" <<EOF
global
    maxconn 8000
    nbthread 1
    log stderr format raw local0 err
    ssl-default-bind-ciphersuites $SUITES
    ssl-default-bind-ciphers $CIPHERS
    ssl-default-server-ciphersuites $SUITES
    ssl-default-server-ciphers $CIPHERS
    tune.ssl.default-dh-param 2048
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    maxconn 8000
frontend web
    bind 127.0.0.1:$HP ssl crt $W/both.pem
    default_backend nginx
backend nginx
    server n1 127.0.0.1:$NP ssl verify required ca-file $W/cert.pem sni str(localhost)
EOF
FL_PID=""; HA_PID=""
start_proxies() {
    "$FL" serve "$W/fl.ini" 2>>"$W/fl.log" &
    FL_PID=$!; PIDS+=($FL_PID)
    haproxy -db -f "$W/haproxy.cfg" 2>>"$W/haproxy.log" &
    HA_PID=$!; PIDS+=($HA_PID)
    wait_port "$FP" && wait_port "$HP" || { echo "proxies did not start"; cat "$W/fl.log" "$W/haproxy.log"; exit 1; }
}
stop_proxies() {
    for p in $FL_PID $HA_PID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $FL_PID $HA_PID; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
    done
}
start_proxies
# both answer through TLS to nginx before anything is measured
for p in $FP $HP; do
    [ "$(curl -sS -m 5 --cacert "$W/cert.pem" "https://localhost:$p/" --resolve "localhost:$p:127.0.0.1")" = "hello from nginx" ] ||
        { echo "no answer through port $p"; cat "$W/fl.log" "$W/haproxy.log"; exit 1; }
done

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000; else print v }'; }
port_of() { case $1 in direct) echo "$NP";; faultline) echo "$FP";; haproxy) echo "$HP";; esac; }
m_keepalive() {
    local t=$1 out
    out=$(wrk -t2 -c50 -d"${DUR}s" --latency "https://127.0.0.1:$(port_of "$t")/")
    echo "ka_rps $t $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" >>"$W/raw"
    echo "ka_p50 $t $(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" >>"$W/raw"
    echo "ka_p99 $t $(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")" >>"$W/raw"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($t keep-alive: $(grep 'Non-2xx\|Socket errors' <<<"$out"))" || true
}
m_newconns() {
    local t=$1 out
    out=$(wrk -t2 -c50 -d"${DUR}s" -H 'Connection: close' "https://127.0.0.1:$(port_of "$t")/")
    echo "hs_rps $t $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" >>"$W/raw"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($t new handshakes: $(grep 'Non-2xx\|Socket errors' <<<"$out"))" || true
}
# IDLE TLS connections held by a python client, each after one request
m_idle() {
    local t=$1 pid port before after
    case $t in faultline) pid=$FL_PID;; haproxy) pid=$HA_PID;; esac
    port=$(port_of "$t")
    curl -s -o /dev/null --cacert "$W/cert.pem" --resolve "localhost:$port:127.0.0.1" "https://localhost:$port/"
    sleep 0.3
    before=$(rss_kb "$pid")
    python3 - "$port" "$IDLE" "$W/cert.pem" "$W/idle.ok" <<'PY' &
import socket, ssl, sys, time
port, n, ca, flag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
ctx = ssl.create_default_context(cafile=ca)
held, ok = [], 0
for i in range(n):
    s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
    s.sendall(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n")
    if b"hello" in s.recv(4096): ok += 1
    held.append(s)
open(flag, "w").write("answered=%d\n" % ok)
time.sleep(60)
PY
    local ic=$!
    for _ in $(seq 1 1200); do [ -s "$W/idle.ok" ] && break; sleep 0.05; done
    sleep 0.5
    after=$(rss_kb "$pid")
    grep -q "answered=$IDLE" "$W/idle.ok" || echo "  ($t idle: $(cat "$W/idle.ok" 2>/dev/null))"
    kill -TERM $ic 2>/dev/null || true; wait $ic 2>/dev/null || true
    rm -f "$W/idle.ok"
    echo "idle_kib $t $(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.2f", (a - b) / n }')" >>"$W/raw"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
targets=(direct faultline haproxy)
nt=${#targets[@]}
for r in $(seq 1 "$ROUNDS"); do
    order=("${targets[@]:$(( (r - 1) % nt ))}" "${targets[@]:0:$(( (r - 1) % nt ))}")
    echo "round $r: ${order[*]}"
    for t in "${order[@]}"; do m_keepalive "$t"; done
    for t in "${order[@]}"; do m_newconns "$t"; done
    stop_proxies; start_proxies
    for t in "${order[@]}"; do [ "$t" = direct ] || m_idle "$t"; done
    stop_proxies; start_proxies
done
stop_proxies

paired() {
    paste <(awk -v m="$1" '$1 == m && $2 == "faultline" {print $3}' "$W/raw") \
          <(awk -v m="$1" '$1 == m && $2 == "haproxy" {print $3}' "$W/raw") |
        awk '$2 + 0 > 0 {print $1 / $2}' | sort -g |
        awk '{a[NR] = $1; if ($1 >= 1) w++} END { if (NR == 0) { print "- -"; exit }
             m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f %d/%d\n", m, w, NR }'
}
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
{
    echo "<!-- tls:begin (written by bench/tls.sh; edits here are overwritten) -->"
    echo "## TLS terminate + originate (issue 21) — \`bench/tls.sh\`"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), $(uname -sr)."
    echo "faultline $("$FL" version | head -n1 | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $(haproxy -v | head -n1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2)."
    echo "Medians of $ROUNDS alternating rounds; wrk -t2 -c50 -d${DUR}s over https, all on 127.0.0.1; one nginx worker (HTTPS),"
    echo "haproxy nbthread 1 (mode tcp, ssl both sides), faultline one event loop (mode tcp, tls = terminate, upstream_tls = on);"
    echo "the same EC P-256 certificate and suites ($SUITES) on both; \"direct\" is wrk to nginx's own TLS."
    echo "Load average (1/5/15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    [ -n "$NOTE" ] && { echo; echo "**$NOTE**"; }
    echo
    echo "| | direct | faultline | haproxy | faultline/haproxy |"
    echo "|---|---:|---:|---:|---:|"
    for m in ka_rps hs_rps; do
        case $m in ka_rps) label="keep-alive requests/s";; hs_rps) label="new TLS handshakes/s (Connection: close)";; esac
        d=$(raw_med $m direct); f=$(raw_med $m faultline); h=$(raw_med $m haproxy)
        echo "| $label | $(fmt "$d" 0) | $(fmt "$f" 0) | $(fmt "$h" 0) | $(ratio "$f" "$h") |"
    done
    for m in ka_p50 ka_p99; do
        echo "| keep-alive ${m#ka_} ms | $(fmt "$(raw_med $m direct)" 3) | $(fmt "$(raw_med $m faultline)" 3) | $(fmt "$(raw_med $m haproxy)" 3) | |"
    done
    echo "| KiB per idle TLS connection ($IDLE) | | $(fmt "$(raw_med idle_kib faultline)" 2) | $(fmt "$(raw_med idle_kib haproxy)" 2) | $(ratio "$(raw_med idle_kib faultline)" "$(raw_med idle_kib haproxy)") |"
    echo
    echo "Per round, faultline/haproxy (the same round's two values, run back to back): median and rounds won."
    echo
    echo "| | median of the per-round ratios | rounds with faultline >= haproxy |"
    echo "|---|---:|---:|"
    for m in ka_rps hs_rps; do
        case $m in ka_rps) label="keep-alive requests/s";; hs_rps) label="new TLS handshakes/s";; esac
        set -- $(paired $m)
        echo "| $label | $1 | $2 |"
    done
    echo
    echo "Raw per-round values:"
    echo
    echo '```'
    sort -k1,1 -k2,2 -s "$W/raw"
    echo '```'
    echo "<!-- tls:end -->"
} >"$W/section.md"
cat "$W/section.md"
R=bench/results.md
if grep -q '<!-- tls:begin' "$R"; then
    awk -v f="$W/section.md" '
        /<!-- tls:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- tls:end -->/ { skip = 0; next }
        !skip { print }' "$R" >"$W/r.md"
    cat "$W/r.md" >"$R"
else
    { echo; cat "$W/section.md"; } >>"$R"
fi
echo "bench: written to $R"
