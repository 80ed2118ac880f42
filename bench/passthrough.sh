#!/usr/bin/env bash
# bench/passthrough.sh -- faultline (no faults) against a direct connection and haproxy (tcp
# mode), all in front of one local nginx on loopback, in alternating rounds.
#
# Measures, per target and round:
#   keep-alive   wrk -t2 -c50 over keep-alive connections: requests/s, p50, p99
#   new conns    wrk -t2 -c50 with "Connection: close": requests/s = new connections/s
#   bulk         iperf3 through each (-t DUR): Gbit/s
#   idle         RSS growth of the proxy process with 5,000 idle proxied connections (each made
#                one request first, so both sides are connected): KiB per connection
#   held         10,000 concurrent proxied connections, each answered: yes/no
# and writes the medians of ROUNDS rounds to bench/results.md (section "passthrough"), with the
# date and the machine. Not a timed test: run it by hand (`make bench`) on a quiet machine.
#
# Installs nginx-light, haproxy, wrk and iperf3 from Debian when missing (root). Everything
# listens on 127.0.0.1 and every client targets 127.0.0.1 only.
#
# Environment: ROUNDS (3), DUR (seconds per wrk/iperf3 run, 5), IDLE (5000), HELD (10000),
#              NOTE (a line added to the results, e.g. "machine shared with other jobs"),
#              FL_BASE (another faultline binary, e.g. one built from main before a change: it
#              runs as a fourth target "base" in the same rounds, and a table compares the two
#              faultlines round by round -- a change's before/after in one run).
set -eu
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
IDLE=${IDLE:-5000}
HELD=${HELD:-10000}
NOTE=${NOTE:-}
BUILD=${BUILD:-build}
FL=$PWD/$BUILD/faultline
IDLECONNS=$PWD/$BUILD/t/idleconns

# ---- tools
source bench/lib.sh
bench_need nginx:nginx-light haproxy:haproxy wrk:wrk iperf3:iperf3 jq:jq
[ -x "$FL" ] && [ -x "$IDLECONNS" ] || make -s all BUILD="$BUILD"

# 10,000 proxied connections need 20,000+ descriptors in the proxy. Raising the hard limit needs
# CAP_SYS_RESOURCE; without it (a container) HELD shrinks to what the hard limit allows.
ulimit -Hn 65536 2>/dev/null || true
LIM=$(ulimit -Hn)
ulimit -n "$LIM"
if [ "$LIM" != unlimited ] && [ $(( (LIM - 200) / 2 )) -lt "$HELD" ]; then
    echo "bench: descriptor limit $LIM: holding $(( (LIM - 200) / 2 )) connections instead of $HELD"
    HELD_NOTE="$HELD wanted; the hard descriptor limit here is $LIM (no CAP_SYS_RESOURCE), so $(( (LIM - 200) / 2 )) were held"
    HELD=$(( (LIM - 200) / 2 ))
fi
HELD_NOTE=${HELD_NOTE:-}
MAXCONN=$(( HELD + 50 ))

bench_workdir flbench


NP=$(free_port); IP=$(free_port)
FP=$(free_port); FIP=$(free_port)
HP=$(free_port); HIP=$(free_port)
BP=$(free_port); BIP=$(free_port)
FL_BASE=${FL_BASE:-}

# ---- nginx: one worker, a small fixed answer
mkdir -p "$W/nginx"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile $LIM;
daemon off;
master_process off;
pid $W/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections $LIM; use epoll; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
    uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    client_header_timeout 120s;
    server {
        listen 127.0.0.1:$NP backlog=8192;
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF
nginx -c "$W/nginx.conf" -p "$W/nginx" &
PIDS+=($!)
NGINX_PID=$!
iperf3 -s -B 127.0.0.1 -p "$IP" >/dev/null 2>&1 &
PIDS+=($!)
wait_port "$NP" || { echo "nginx did not start: $(cat "$W/nginx/error.log")"; exit 1; }
wait_port "$IP" || { echo "iperf3 did not start"; exit 1; }

# ---- the two proxies (restartable: the idle test measures fresh processes)
cat >"$W/fl.ini" <<EOF
[faultline]
admin = off
log = warn
[proxy web]
listen = 127.0.0.1:$FP
upstream = 127.0.0.1:$NP
[proxy iperf]
listen = 127.0.0.1:$FIP
upstream = 127.0.0.1:$IP
EOF
cat >"$W/haproxy.cfg" <<EOF
global
    maxconn $MAXCONN
    nbthread 1
    log stderr format raw local0 err
defaults
    mode tcp
    timeout connect 5s
    timeout client 120s
    timeout server 120s
    maxconn $MAXCONN
frontend web
    bind 127.0.0.1:$HP
    default_backend nginx
backend nginx
    server n1 127.0.0.1:$NP
frontend iperf
    bind 127.0.0.1:$HIP
    default_backend iperf
backend iperf
    server i1 127.0.0.1:$IP
EOF
sed "s/:$FP\$/:$BP/; s/:$FIP\$/:$BIP/" "$W/fl.ini" >"$W/base.ini"
FL_PID=""; HA_PID=""; BASE_PID=""
start_proxies() {
    "$FL" serve "$W/fl.ini" 2>>"$W/fl.log" &
    FL_PID=$!; PIDS+=($FL_PID)
    if [ -n "$FL_BASE" ]; then
        "$FL_BASE" serve "$W/base.ini" 2>>"$W/base.log" &
        BASE_PID=$!; PIDS+=($BASE_PID)
        wait_port "$BP" || { echo "base did not start"; cat "$W/base.log"; exit 1; }
    fi
    haproxy -db -f "$W/haproxy.cfg" 2>>"$W/haproxy.log" &
    HA_PID=$!; PIDS+=($HA_PID)
    wait_port "$FP" && wait_port "$HP" || { echo "proxies did not start"; cat "$W/fl.log" "$W/haproxy.log"; exit 1; }
}
stop_proxies() {
    for p in $FL_PID $HA_PID $BASE_PID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $FL_PID $HA_PID $BASE_PID; do
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
        kill -KILL "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true
    done
}
start_proxies

# ---- measurements; each appends "METRIC TARGET VALUE" lines to $W/raw
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v / 1000; else if (v ~ /ms$/) print v + 0; else if (v ~ /s$/) print v * 1000; else print v }'; }
port_of() { case $1 in direct) echo "$NP";; faultline) echo "$FP";; haproxy) echo "$HP";; base) echo "$BP";; esac; }
iport_of() { case $1 in direct) echo "$IP";; faultline) echo "$FIP";; haproxy) echo "$HIP";; base) echo "$BIP";; esac; }

m_keepalive() {
    local t=$1 out
    out=$(wrk -t2 -c50 -d"${DUR}s" --latency "http://127.0.0.1:$(port_of "$t")/")
    echo "ka_rps $t $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" >>"$W/raw"
    echo "ka_p50 $t $(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")" >>"$W/raw"
    echo "ka_p99 $t $(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")" >>"$W/raw"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($t keep-alive: $(grep 'Non-2xx\|Socket errors' <<<"$out"))" || true
}
m_newconns() {
    local t=$1 out
    out=$(wrk -t2 -c50 -d"${DUR}s" -H 'Connection: close' "http://127.0.0.1:$(port_of "$t")/")
    echo "nc_rps $t $(awk '/^Requests\/sec/ {print $2}' <<<"$out")" >>"$W/raw"
    grep -q 'Non-2xx\|Socket errors' <<<"$out" && echo "  ($t new conns: $(grep 'Non-2xx\|Socket errors' <<<"$out"))" || true
}
m_bulk() {
    local t=$1 out
    out=$(iperf3 -c 127.0.0.1 -p "$(iport_of "$t")" -t "$DUR" -J)
    echo "bulk_gbps $t $(jq '.end.sum_received.bits_per_second / 1e9' <<<"$out")" >>"$W/raw"
}
# idle KiB per connection for a proxy (fresh processes)
m_idle() {
    local t=$1 pid port before after line
    case $t in faultline) pid=$FL_PID;; haproxy) pid=$HA_PID;; base) pid=$BASE_PID;; esac
    port=$(port_of "$t")
    # settle: one request so lazily allocated things exist
    curl -s -o /dev/null "http://127.0.0.1:$port/"
    sleep 0.3
    before=$(rss_kb "$pid")
    "$IDLECONNS" "127.0.0.1:$port" "$IDLE" 30 'GET / HTTP/1.1\r\nHost: b\r\n\r\n' >"$W/idle.out" 2>&1 &
    local ic=$!
    for _ in $(seq 1 600); do grep -q '^open=' "$W/idle.out" && break; sleep 0.05; done
    sleep 0.5
    after=$(rss_kb "$pid")
    line=$(grep '^open=' "$W/idle.out" || echo "open=0 answered=0")
    kill -TERM $ic 2>/dev/null || true; wait $ic 2>/dev/null || true
    local ans; ans=$(sed -n 's/.*answered=\([0-9]*\).*/\1/p' <<<"$line")
    [ "$ans" = "$IDLE" ] || echo "  ($t idle: only $line)"
    echo "idle_kib $t $(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.2f", (a - b) / n }')" >>"$W/raw"
}
m_held() {
    local t=$1 line
    line=$("$IDLECONNS" "127.0.0.1:$(port_of "$t")" "$HELD" 1 'GET / HTTP/1.1\r\nHost: b\r\n\r\n' 60 2>&1 | head -n1 || true)
    local ans; ans=$(sed -n 's/.*answered=\([0-9]*\).*/\1/p' <<<"$line")
    echo "held_ok $t ${ans:-0}" >>"$W/raw"
    [ "${ans:-0}" = "$HELD" ] || echo "  ($t held: $line)"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
targets=(direct faultline haproxy)
[ -n "$FL_BASE" ] && targets+=(base)
nt=${#targets[@]}
for r in $(seq 1 "$ROUNDS"); do
    # alternate the order from round to round
    order=("${targets[@]:$(( (r - 1) % nt ))}" "${targets[@]:0:$(( (r - 1) % nt ))}")
    echo "round $r: ${order[*]}"
    for t in "${order[@]}"; do m_keepalive "$t"; done
    for t in "${order[@]}"; do m_newconns "$t"; done
    for t in "${order[@]}"; do m_bulk "$t"; done
    stop_proxies; start_proxies
    for t in "${order[@]}"; do [ "$t" = direct ] || m_idle "$t"; done
    for t in "${order[@]}"; do [ "$t" = direct ] || m_held "$t"; done
    stop_proxies; start_proxies
done
stop_proxies

# ---- medians and the report
# paired METRIC: "MEDIAN WON/ROUNDS" of the per-round faultline/haproxy ratios (raw lines are in
# time order, so the i-th value of each target is round i's)
paired() {   # paired METRIC [OTHER]: faultline against OTHER (haproxy)
    paste <(awk -v m="$1" '$1 == m && $2 == "faultline" {print $3}' "$W/raw") \
          <(awk -v m="$1" -v o="${2:-haproxy}" '$1 == m && $2 == o {print $3}' "$W/raw") |
        awk '$2 + 0 > 0 {print $1 / $2}' | sort -g |
        awk '{a[NR] = $1; if ($1 >= 1) w++} END { if (NR == 0) { print "- -"; exit }
             m = (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2; printf "%.2f %d/%d\n", m, w, NR }'
}
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
{
    echo "<!-- passthrough:begin (written by bench/passthrough.sh; edits here are overwritten) -->"
    echo "## passthrough"
    echo
    echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs ($cpu), $(uname -sr), $(free -g | awk '/^Mem/ {print $2}') GiB."
    echo "faultline $("$FL" version | head -n1 | cut -d' ' -f2) ($(git rev-parse --short HEAD 2>/dev/null || echo '?')), $(haproxy -v | head -n1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2), $(iperf3 -v | head -n1 | cut -d' ' -f1-2)."
    echo "Medians of $ROUNDS alternating rounds; wrk -t2 -c50 -d${DUR}s, iperf3 -t $DUR, all on 127.0.0.1; one nginx worker,"
    echo "haproxy nbthread 1, faultline one event loop; ratios are to direct."
    echo "Load average (1/5/15 min) at the start: $LOAD0; at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
    [ -n "$NOTE" ] && { echo; echo "**$NOTE**"; }
    [ -n "$HELD_NOTE" ] && { echo; echo "Held connections: $HELD_NOTE."; }
    echo
    echo "| | direct | faultline | haproxy | faultline/direct | haproxy/direct |"
    echo "|---|---:|---:|---:|---:|---:|"
    for m in ka_rps nc_rps bulk_gbps; do
        case $m in ka_rps) label="keep-alive requests/s";; nc_rps) label="new connections/s";; bulk_gbps) label="bulk Gbit/s (iperf3)";; esac
        d=$(raw_med $m direct); f=$(raw_med $m faultline); h=$(raw_med $m haproxy)
        dd=0; [ $m = bulk_gbps ] && dd=2
        echo "| $label | $(fmt "$d" $dd) | $(fmt "$f" $dd) | $(fmt "$h" $dd) | $(ratio "$f" "$d") | $(ratio "$h" "$d") |"
    done
    for m in ka_p50 ka_p99; do
        echo "| keep-alive ${m#ka_} ms | $(fmt "$(raw_med $m direct)" 3) | $(fmt "$(raw_med $m faultline)" 3) | $(fmt "$(raw_med $m haproxy)" 3) | | |"
    done
    echo "| KiB per idle proxied connection ($IDLE) | | $(fmt "$(raw_med idle_kib faultline)" 2) | $(fmt "$(raw_med idle_kib haproxy)" 2) | | |"
    echo "| $HELD concurrent connections answered | | $(raw_med held_ok faultline) | $(raw_med held_ok haproxy) | | |"
    echo
    # the machine's speed drifts from round to round (direct's own rate moves by tens of percent);
    # within a round the targets run back to back, so each round's faultline/haproxy ratio
    # compares them at nearly the same moment
    echo "Per round, faultline/haproxy (the same round's two values, run back to back): median and rounds won."
    echo
    echo "| | median of the per-round ratios | rounds with faultline >= haproxy |"
    echo "|---|---:|---:|"
    for m in ka_rps nc_rps bulk_gbps; do
        case $m in ka_rps) label="keep-alive requests/s";; nc_rps) label="new connections/s";; bulk_gbps) label="bulk Gbit/s";; esac
        set -- $(paired $m)
        echo "| $label | $1 | $2 |"
    done
    echo
    f=$(raw_med ka_rps faultline); h=$(raw_med ka_rps haproxy); f2=$(raw_med nc_rps faultline); h2=$(raw_med nc_rps haproxy)
    f3=$(raw_med bulk_gbps faultline); h3=$(raw_med bulk_gbps haproxy); fi=$(raw_med idle_kib faultline)
    verdict() { awk -v a="$1" -v b="$2" 'BEGIN { print (a + 0 >= b + 0) ? "met" : "NOT met" }'; }
    if [ -n "$FL_BASE" ]; then
        echo "This build against FL_BASE ($FL_BASE, $("$FL_BASE" version | head -n1)), in the same rounds:"
        echo
        echo "| | faultline | base | faultline/base (medians) | median of per-round ratios | rounds faultline >= base |"
        echo "|---|---:|---:|---:|---:|---:|"
        for m in ka_rps nc_rps bulk_gbps idle_kib; do
            case $m in ka_rps) label="keep-alive requests/s";; nc_rps) label="new connections/s";; bulk_gbps) label="bulk Gbit/s";; idle_kib) label="KiB per idle connection";; esac
            f=$(raw_med $m faultline); b=$(raw_med $m base)
            set -- $(paired $m base)
            echo "| $label | $f | $b | $(ratio "$f" "$b") | $1 | $2 |"
        done
        echo
    fi
    echo "Targets (issue 2): faultline >= haproxy on keep-alive rps ($(verdict "$f" "$h")), new connections/s ($(verdict "$f2" "$h2")),"
    echo "bulk ($(verdict "$f3" "$h3")); <= 4 KiB per idle connection ($(awk -v a="$fi" 'BEGIN { print (a + 0 <= 4) ? "met" : "NOT met" }'));"
    echo "$HELD held ($( [ "$(raw_med held_ok faultline)" = "$HELD" ] && echo met || echo 'NOT met')$([ -n "$HELD_NOTE" ] && echo "; the 10000 of the target do not fit in this machine's descriptor limit"))."
    echo
    echo "Raw per-round values:"
    echo
    echo '```'
    sort -k1,1 -k2,2 -s "$W/raw"
    echo '```'
    echo "<!-- passthrough:end -->"
} >"$W/section.md"
cat "$W/section.md"

# replace our section of bench/results.md, keep the rest
R=bench/results.md
[ -f "$R" ] || printf '# Benchmark results\n\nEach section is written by its script; see the script for what it measures.\n\n' >"$R"
if grep -q '<!-- passthrough:begin' "$R"; then
    awk -v f="$W/section.md" '
        /<!-- passthrough:begin/ { while ((getline l < f) > 0) print l; skip = 1; next }
        /<!-- passthrough:end -->/ { skip = 0; next }
        !skip { print }' "$R" >"$W/r.md"
    cat "$W/r.md" >"$R"
else
    { echo; cat "$W/section.md"; } >>"$R"
fi
echo "bench: written to $R"
