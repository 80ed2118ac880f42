#!/usr/bin/env bash
# bench/protocols.sh [SECONDS] -- protocol mode overhead (issue 10): pgbench -S and
# redis-benchmark against a private postgres / redis-server directly, through faultline in tcp
# mode, and through faultline in postgres / redis mode (no fault). Prints one line per target
# and the verdict of the issue's target: protocol mode >= 85% of tcp mode's rate. Loopback only;
# every run is bounded (-T SECONDS for pgbench, -n for redis-benchmark).
# The machine is shared: run it more than once and read the spread, not one number.
set -u
SECS=${1:-5}
PG_CLIENTS=${PG_CLIENTS:-4}
REDIS_N=${REDIS_N:-100000}
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
source tests/lib.sh
PGB=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)

start_postgres || { echo "postgres did not start"; exit 1; }
RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$TT" --daemonize no \
    --loglevel warning >"$TT/redis.log" 2>&1 &
_PIDS+=($!)
wait_port "$RP" 10 || { echo "redis did not start"; exit 1; }
PT=$(free_port); PP=$(free_port); RT=$(free_port); RR=$(free_port)
cat >"$TT/b.ini" <<INI
[faultline]
admin = off
log = warn
[proxy pg-tcp]
listen = 127.0.0.1:$PT
upstream = 127.0.0.1:$PGPORT
[proxy pg-mode]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$PGPORT
mode = postgres
[proxy redis-tcp]
listen = 127.0.0.1:$RT
upstream = 127.0.0.1:$RP
[proxy redis-mode]
listen = 127.0.0.1:$RR
upstream = 127.0.0.1:$RP
mode = redis
INI
start_fl "$TT/b.ini" "$TT/fl.log" || { echo "faultline did not start"; exit 1; }
"$PGB" -h 127.0.0.1 -p "$PGPORT" -U postgres -i -s 1 -q postgres >/dev/null 2>&1

# Each run prints "RATE COUNT CPU_US_PER_REQUEST": the rate the client saw, how many requests it
# made, and faultline's own CPU time (utime+stime from /proc) per request during the run. On a
# loaded machine the rate mostly measures the scheduler; the CPU per request measures faultline.
measure() {  # measure CMD... (stdout of CMD: "RATE COUNT")
    local t0 t1 out
    t0=$(cpu_ticks "$FL_PID")
    out=$("$@")
    t1=$(cpu_ticks "$FL_PID")
    echo "$out $(( t1 - t0 ))" | awk -v hz="$(getconf CLK_TCK)" '{ printf "%d %d %.1f\n", $1, $2, $2 ? $3 * 1e6 / hz / $2 : 0 }'
}
pgb() {   # pgb PORT MODE -> "tps count"
    "$PGB" -h 127.0.0.1 -p "$1" -U postgres -S -M "$2" -c "$PG_CLIENTS" -j 2 -T "$SECS" postgres 2>/dev/null |
        awk '/actually processed/ {split($NF, a, "/"); n = a[1]} /^tps/ {t = int($3)} END {print t + 0, n + 0}'
}
rb() {    # rb PORT TEST PIPELINE -> "req/s count"
    timeout 120 redis-benchmark -h 127.0.0.1 -p "$1" -n "$REDIS_N" -c 16 -P "$3" -q -t "$2" 2>/dev/null |
        tr '\r' '\n' | awk -v n="$REDIS_N" '/requests per second/ {print int($2), n; exit}'
}
printf '%-36s %9s %9s %9s %8s %12s %12s\n' benchmark direct tcp mode mode/tcp cpu_us_tcp cpu_us_mode
row() {   # row NAME DIRECT TCP_LINE MODE_LINE
    local share
    set -- "$1" "$2" $3 $4
    share=$(awk -v m="$6" -v t="$3" 'BEGIN { printf "%.0f", t ? 100 * m / t : 0 }')
    printf '%-36s %9s %9s %9s %7s%% %12s %12s\n' "$1" "$2" "$3" "$6" "$share" "$5" "$8"
    echo "$share" >>"$TT/shares"
    awk -v a="$5" -v b="$8" 'BEGIN { if (b > 0) printf "%.0f\n", 100 * a / b; else print 0 }' >>"$TT/cpushares"
}
for m in simple prepared; do
    d=$(pgb "$PGPORT" $m | cut -d' ' -f1); t=$(measure pgb "$PT" $m); p=$(measure pgb "$PP" $m)
    row "pgbench -S -M $m -c $PG_CLIENTS (tps)" "$d" "$t" "$p"
done
for tst in get set; do
    for pl in 1 16; do
        d=$(rb "$RP" $tst $pl | cut -d' ' -f1); t=$(measure rb "$RT" $tst $pl); r=$(measure rb "$RR" $tst $pl)
        row "redis-benchmark $tst -c 16 -P $pl (req/s)" "$d" "$t" "$r"
    done
done
min=$(sort -n "$TT/shares" | head -n1)
echo "lowest mode/tcp rate: ${min}% (target >= 85%): $([ "${min:-0}" -ge 85 ] && echo PASS || echo FAIL)"
cmin=$(sort -n "$TT/cpushares" | head -n1)
echo "lowest tcp/mode CPU per request (the rate ratio on an idle machine, if faultline is the bottleneck): ${cmin}%"
echo "$(nproc) cores, shared machine, load average $(cut -d' ' -f1 /proc/loadavg); pgbench -T ${SECS}s, redis-benchmark -n $REDIS_N"
