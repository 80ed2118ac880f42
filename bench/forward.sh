#!/usr/bin/env bash
# bench/forward.sh -- what the forward proxy (`mode = forward`) costs when no fault acts, against
# a direct connection to the same nginx and against faultline's own reverse http proxy (`mode =
# http`, the same engine with one fixed upstream). No squid or haproxy baseline: haproxy is not a
# forward proxy, and the question here is the cost of the per-request destination, not a contest.
#
# Measures, per target and round (alternating order, medians of ROUNDS rounds):
#   plain HTTP   wrk -t2 -c50 keep-alive: direct to nginx, through `mode = http`, and through
#                `mode = forward` with absolute-form requests (GET http://api.example.test:PORT/,
#                set by a wrk Lua script): requests/s, p50, p99
#   HTTPS        one Python http.client over one keep-alive connection, N sequential requests:
#                direct to nginx's TLS, through a CONNECT tunnel (no tls_ca: bytes), through an
#                opened CONNECT (tls_ca: faultline's leaf towards the client, TLS to nginx):
#                median microseconds per request
#   new conns    the same client, one connection per request (CONNECT, the TLS handshake(s), one
#                request): median milliseconds per connection
# and writes them to bench/results.md (section "forward") with the date, the machine and its load.
# Not a timed test: run it by hand, ideally on a quiet machine.
#
# Environment: ROUNDS (3), DUR (seconds per wrk run, 5), N (HTTPS requests per run, 2000), NC (new
# connections per run, 200), NOTE (a line added to the results, e.g. "machine shared").
set -eu
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
N=${N:-2000}
NC=${NC:-200}
NOTE=${NOTE:-}
BUILD=${BUILD:-build}
FL=$PWD/$BUILD/faultline

for c in nginx wrk curl python3 openssl; do command -v $c >/dev/null || { echo "bench: needs $c"; exit 1; }; done
[ -x "$FL" ] || make -s all BUILD="$BUILD"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

bench_workdir flfwdbench

H=api.example.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/key.pem" -out "$W/cert.pem" -days 30 \
    -subj "/CN=$H" -addext "subjectAltName=DNS:$H,IP:127.0.0.1" >/dev/null 2>&1
"$FL" ca init "$W/ca" --domain example.test >/dev/null
cat "$W/cert.pem" "$W/ca/ca.crt" >"$W/trust.pem"
NP=$(free_port); NS=$(free_port); FP=$(free_port); TP=$(free_port); RP=$(free_port)

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
        listen 127.0.0.1:$NP backlog=8192;
        listen 127.0.0.1:$NS ssl backlog=8192;
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
[proxy fwd]
listen = 127.0.0.1:$FP
mode = forward
tls_ca = $W/ca
upstream_ca = $W/cert.pem
resolve = $H:127.0.0.1
[proxy tun]
listen = 127.0.0.1:$TP
mode = forward
resolve = $H:127.0.0.1
[proxy rev]
listen = 127.0.0.1:$RP
mode = http
upstream = 127.0.0.1:$NP
EOF
FL_PID=""
start_fl() {
    "$FL" serve "$W/fl.ini" 2>>"$W/fl.log" &
    FL_PID=$!; PIDS+=($FL_PID)
    wait_port "$FP" && wait_port "$TP" && wait_port "$RP" || { echo "faultline did not start"; cat "$W/fl.log"; exit 1; }
}
stop_fl() {
    kill -TERM "$FL_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$FL_PID" 2>/dev/null || break; sleep 0.05; done
    kill -KILL "$FL_PID" 2>/dev/null || true; wait "$FL_PID" 2>/dev/null || true
}
start_fl
printf 'wrk.path = "http://%s:%s/"\n' "$H" "$NP" >"$W/abs.lua"

cat >"$W/https.py" <<'PY'
# usage: https.py direct|tunnel|opened PROXYPORT NGINXTLSPORT TRUST N NC -> "us_per_req ms_per_conn"
import http.client, ssl, statistics, sys, time
how, pport, nport, trust, n, nc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
ctx = ssl.create_default_context(cafile=trust)
def conn():
    if how == "direct":
        c = http.client.HTTPSConnection("127.0.0.1", nport, context=ctx, timeout=10)
    else:
        c = http.client.HTTPSConnection("127.0.0.1", pport, context=ctx, timeout=10)
        c.set_tunnel("api.example.test", nport)
    return c
def get(c):
    c.request("GET", "/", headers={"Host": "api.example.test"})
    r = c.getresponse()
    body = r.read()
    if r.status != 200 or b"hello" not in body: raise SystemExit("bad answer %d %r" % (r.status, body))
c = conn(); get(c)
t0 = time.perf_counter()
for _ in range(n): get(c)
per_req = (time.perf_counter() - t0) / n * 1e6
c.close()
times = []
for _ in range(nc):
    t = time.perf_counter(); c = conn(); get(c); c.close(); times.append((time.perf_counter() - t) * 1e3)
print("%.1f %.3f" % (per_req, statistics.median(times)))
PY
# every path answers before anything is measured
[ "$(curl -sS -m 5 "http://127.0.0.1:$RP/")" = "hello from nginx" ] || { echo "no answer through mode = http"; exit 1; }
[ "$(curl -sS -m 5 -x "http://127.0.0.1:$FP" "http://$H:$NP/")" = "hello from nginx" ] || { echo "no answer through forward"; cat "$W/fl.log"; exit 1; }
for how in direct tunnel opened; do
    p=$FP; [ $how = tunnel ] && p=$TP
    python3 "$W/https.py" $how "$p" "$NS" "$W/trust.pem" 5 2 >/dev/null || { echo "no HTTPS answer ($how)"; cat "$W/fl.log"; exit 1; }
done

to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000; else print v }'; }
m_wrk() {
    local t=$1 out
    case $t in
        direct) out=$(wrk -t2 -c50 -d"${DUR}s" --latency "http://127.0.0.1:$NP/");;
        http) out=$(wrk -t2 -c50 -d"${DUR}s" --latency "http://127.0.0.1:$RP/");;
        forward) out=$(wrk -t2 -c50 -d"${DUR}s" --latency -s "$W/abs.lua" "http://127.0.0.1:$FP/");;
    esac
    echo "rps $t $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" >>"$W/raw"
    echo "p50 $t $(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" >>"$W/raw"
    echo "p99 $t $(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")" >>"$W/raw"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($t: $(grep 'Non-2xx\|Socket errors' <<<"$out"))" || true
}
m_https() {
    local t=$1 p=$FP out
    [ "$t" = tunnel ] && p=$TP
    out=$(python3 "$W/https.py" "$t" "$p" "$NS" "$W/trust.pem" "$N" "$NC")
    echo "req_us $t ${out% *}" >>"$W/raw"
    echo "conn_ms $t ${out#* }" >>"$W/raw"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
plain=(direct http forward)
tls=(direct tunnel opened)
for r in $(seq 1 "$ROUNDS"); do
    k=$(( (r - 1) % 3 ))
    op=("${plain[@]:$k}" "${plain[@]:0:$k}"); ot=("${tls[@]:$k}" "${tls[@]:0:$k}")
    echo "round $r: ${op[*]} / ${ot[*]} (load $(cut -d' ' -f1 /proc/loadavg))"
    for t in "${op[@]}"; do m_wrk "$t"; done
    for t in "${ot[@]}"; do m_https "$t"; done
    stop_fl; start_fl
done
stop_fl

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
{
    echo "<!-- forward:begin (written by bench/forward.sh; edits here are overwritten) -->"
    echo "## Forward proxy, no fault (issue 21) — \`bench/forward.sh\`"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), $(uname -sr)."
    echo "faultline $("$FL" version | head -n1 | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $(nginx -v 2>&1 | cut -d' ' -f3), $(openssl version | cut -d' ' -f1-2), $(python3 -V)."
    echo "Medians of $ROUNDS alternating rounds, all on 127.0.0.1, one nginx worker, faultline one event loop."
    echo "Plain HTTP: wrk -t2 -c50 -d${DUR}s keep-alive (forward: absolute-form requests). HTTPS: one Python"
    echo "http.client, $N sequential requests on one connection, then $NC connections of one request each."
    echo "Load average (1/5/15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    [ -n "$NOTE" ] && { echo; echo "**$NOTE**"; }
    echo
    echo "| plain HTTP, keep-alive | direct | mode = http | mode = forward | forward/http |"
    echo "|---|---:|---:|---:|---:|"
    echo "| requests/s | $(fmt "$(raw_med rps direct)" 0) | $(fmt "$(raw_med rps http)" 0) | $(fmt "$(raw_med rps forward)" 0) | $(ratio "$(raw_med rps forward)" "$(raw_med rps http)") |"
    for m in p50 p99; do
        echo "| $m ms | $(fmt "$(raw_med $m direct)" 3) | $(fmt "$(raw_med $m http)" 3) | $(fmt "$(raw_med $m forward)" 3) | $(ratio "$(raw_med $m forward)" "$(raw_med $m http)") |"
    done
    echo
    echo "| HTTPS (Python client) | direct | CONNECT tunnel | CONNECT opened (tls_ca) | opened/direct |"
    echo "|---|---:|---:|---:|---:|"
    echo "| µs per request, keep-alive | $(fmt "$(raw_med req_us direct)" 0) | $(fmt "$(raw_med req_us tunnel)" 0) | $(fmt "$(raw_med req_us opened)" 0) | $(ratio "$(raw_med req_us opened)" "$(raw_med req_us direct)") |"
    echo "| ms per new connection (median) | $(fmt "$(raw_med conn_ms direct)" 2) | $(fmt "$(raw_med conn_ms tunnel)" 2) | $(fmt "$(raw_med conn_ms opened)" 2) | $(ratio "$(raw_med conn_ms opened)" "$(raw_med conn_ms direct)") |"
    echo
    echo "Raw per-round values:"
    echo
    echo '```'
    sort -k1,1 -k2,2 -s "$W/raw"
    echo '```'
    echo "<!-- forward:end -->"
} >"$W/section.md"
cat "$W/section.md"
R=bench/results.md
if grep -q '<!-- forward:begin' "$R"; then
    awk -v f="$W/section.md" '
        /<!-- forward:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- forward:end -->/ { skip = 0; next }
        !skip { print }' "$R" >"$W/r.md"
    cat "$W/r.md" >"$R"
else
    { echo; cat "$W/section.md"; } >>"$R"
fi
echo "bench: written to $R"
