#!/usr/bin/env bash
# bench/http.sh [SECONDS] -- http mode overhead (issue 4): small keep-alive requests with wrk
# against the same upstream directly, through faultline in tcp mode, through faultline in http
# mode (no fault), and through haproxy in http mode (1 thread, when installed). Prints one line
# per target (req/s, p50, p99) and the verdict lines for the targets of the issue:
# http >= 75% of tcp req/s, p99 added by http mode (vs direct) <= 300 us. Loopback only.
# ROUNDS rounds (default 3) run every target; the verdicts use the medians of the rounds, and a
# target whose runs failed makes the verdict FAIL ("no data"), never PASS.
# The machine may be shared: read the spread of the rounds, not one number.
set -u
SECS=${1:-8}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] && [ -x "$BUILD/t/httpup" ] || { echo "build first: make"; exit 2; }
command -v wrk >/dev/null || { echo "wrk not installed (apt-get install wrk)"; exit 2; }
bench_workdir benchhttp

"$BUILD/t/httpup" 127.0.0.1:0 >"$W/up.port" & PIDS+=($!)
for _ in $(seq 1 100); do grep -q listening "$W/up.port" && break; sleep 0.05; done
UP=$(sed -n 's/^listening //p' "$W/up.port")
# free ports (not in /proc/net/tcp*): a random port taken by another process made faultline
# exit at startup, and every faultline figure came out -1
wait_listen() {  # wait_listen PORT WHAT LOG
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "bench: $2 is not listening on 127.0.0.1:$1:"; tail -n 5 "$3"; exit 1
}
PT=$(free_port); PH=$(free_port); PX=$(free_port)
[ "$PH" != "$PT" ] || PH=$(free_port)
cat >"$W/p.ini" <<INI
[faultline]
admin = off
log = warn
[proxy tcp]
listen = 127.0.0.1:$PT
upstream = 127.0.0.1:$UP
[proxy http]
listen = 127.0.0.1:$PH
upstream = 127.0.0.1:$UP
mode = http
INI
"$FL" serve "$W/p.ini" 2>"$W/fl.log" & PIDS+=($!)
FL_PID=$!
wait_listen "$PT" "faultline (tcp)" "$W/fl.log"
wait_listen "$PH" "faultline (http)" "$W/fl.log"
HA_PID=
if command -v haproxy >/dev/null; then
    cat >"$W/haproxy.cfg" <<CFG
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend f
    bind 127.0.0.1:$PX
    default_backend b
backend b
    server s1 127.0.0.1:$UP
CFG
    haproxy -f "$W/haproxy.cfg" -db >"$W/haproxy.log" 2>&1 & PIDS+=($!)
    HA_PID=$!
fi
sleep 0.5

# run NAME PORT CONNS -> "NAME rps p50_us p99_us cpu_us_per_req"
# cpu_us_per_req: the proxy process's own CPU time (utime+stime) per request during the run --
# on a shared machine the figure that measures the proxy rather than the scheduler (the tcp and
# http proxies share one faultline process, measured one at a time); -1 for direct.
ticks() { [ -n "$1" ] && awk '{print $14 + $15}' "/proc/$1/stat" || echo 0; }
HZ=$(getconf CLK_TCK)
run() {
    wrk -t1 -c"$3" -d1s "http://127.0.0.1:$2/" >/dev/null 2>&1   # warm-up
    local out rps p50 p99 pid="" t0 t1 req
    case $1 in tcp|http) pid=$FL_PID;; haproxy) pid=$HA_PID;; esac
    t0=$(ticks "$pid")
    out=$(wrk -t1 -c"$3" -d"${SECS}s" --latency "http://127.0.0.1:$2/" 2>&1)
    t1=$(ticks "$pid")
    req=$(echo "$out" | awk '/requests in/ {print $1}')
    rps=$(echo "$out" | awk '/^Requests\/sec/ {print $2}')
    p50=$(echo "$out" | awk '$1 == "50%" {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    to_us() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) print n; else if (v ~ /ms$/) print n * 1000; else if (v ~ /s$/) print n * 1000000; else print -1 }'; }
    local cpu=-1
    # (the condition is not written as `(r > 0 ? ...)` inside printf: mawk reads that `>` as an
    # output redirection and wrote the figure to a file named "-1")
    [ -n "$pid" ] && cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v r="${req:-0}" 'BEGIN { v = -1; if (r > 0) v = t * 1e6 / hz / r; printf "%.1f", v }')
    [ -n "$rps" ] || { rps=-1; p50=; p99=; }
    echo "$1 $rps $(to_us "${p50:-x}") $(to_us "${p99:-x}") $cpu"
}
HAVE_HAPROXY=0
command -v haproxy >/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$PX") 2>/dev/null && HAVE_HAPROXY=1
# throughput: CONNS keep-alive connections; added latency: one connection (no queueing).
# Each round runs every target in turn; the order alternates between rounds.
for r in $(seq 1 "$ROUNDS"); do
    for c in "$CONNS" 1; do
        {
            if [ $((r % 2)) = 1 ]; then order="direct tcp http haproxy"; else order="haproxy http tcp direct"; fi
            for t in $order; do
                case $t in
                    direct) run direct "$UP" "$c";;
                    tcp) run tcp "$PT" "$c";;
                    http) run http "$PH" "$c";;
                    haproxy) [ $HAVE_HAPROXY = 1 ] && run haproxy "$PX" "$c";;
                esac
            done
        } >"$W/res.$c.$r"
        echo "-- round $r, $c connection(s), wrk -t1 -d${SECS}s, load $(cut -d' ' -f1 /proc/loadavg)"
        printf '%-8s %12s %10s %10s %12s\n' target req/s p50_us p99_us cpu_us/req
        sort "$W/res.$c.$r" | awk '{printf "%-8s %12.0f %10.0f %10.0f %12s\n", $1, $2, $3, $4, ($5 < 0 ? "-" : $5)}'
    done
done
# medians per target and connection count (fields: target rps p50 p99 cpu)
med() {  # med CONNS -> one line per target with the median of each field over the rounds
    cat "$W"/res."$1".* | sort -k1,1 | awk '
        function median(a, n,   i, j, t) { for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
                                           return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
        function flush(   k) { if (name == "") return; printf "%s", name; for (k = 2; k <= 5; k++) { split(col[k], v, " "); printf " %s", median(v, n) } printf "\n" }
        $1 != name { flush(); name = $1; n = 0; for (k = 2; k <= 5; k++) col[k] = "" }
        { n++; for (k = 2; k <= 5; k++) col[k] = col[k] " " $k }
        END { flush() }'
}
med "$CONNS" >"$W/res"
med 1 | awk '{print "one_" $0}' >>"$W/res"
echo "-- medians of $ROUNDS rounds"
printf '%-12s %12s %10s %10s %12s\n' target req/s p50_us p99_us cpu_us/req
awk '{printf "%-12s %12.0f %10.0f %10.0f %12s\n", $1, $2, $3, $4, ($5 < 0 ? "-" : $5)}' "$W/res"
awk '
    {rps[$1] = $2; p99[$1] = $4; cpu[$1] = $5}
    END {
        ok = rps["tcp"] > 0 && rps["http"] > 0 && p99["one_http"] > 0 && p99["one_direct"] > 0
        if (!ok) { print "no data for some target (see the rounds above): FAIL"; exit 1 }
        share = 100 * rps["http"] / rps["tcp"]
        if (cpu["http"] > 0) printf "CPU per request (%d connections): tcp %.1f us, http %.1f us, haproxy http %s us: when faultline is the bottleneck http mode reaches ~%.0f%% of tcp mode\n", '"$CONNS"', cpu["tcp"], cpu["http"], (cpu["haproxy"] > 0 ? cpu["haproxy"] : "-"), 100 * cpu["tcp"] / cpu["http"]
        added = p99["one_http"] - p99["one_direct"]
        printf "http/tcp req/s: %.0f%% (target >= 75%%): %s\n", share, (share >= 75 ? "PASS" : "FAIL")
        printf "p99 added by http mode vs direct (1 connection): %.0f us (target <= 300 us): %s\n", added, (added <= 300 ? "PASS" : "FAIL")
    }' "$W/res"
rc=$?
echo "GET / (6-byte body), keep-alive; upstream tests/peers/httpup.c; $(nproc) cores, load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
exit $rc
