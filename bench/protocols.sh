#!/usr/bin/env bash
# bench/protocols.sh [SECONDS] [ROUNDS] -- protocol mode overhead (issue 10): pgbench -S and
# redis-benchmark against a private postgres / redis-server directly, through faultline in tcp
# mode, and through faultline in postgres / redis mode (no fault). Loopback only; every run is
# bounded (-T SECONDS for pgbench, -n for redis-benchmark).
#
# The machine is shared, so one number says little. ROUNDS rounds (default 3) run every
# benchmark, alternating the order of tcp and protocol mode from round to round so that a load
# change favours neither; the summary gives the median of the rounds. Each faultline run also
# measures faultline's own CPU time per request — with `perf stat -e task-clock` when perf is
# installed (else utime+stime from /proc, 10 ms resolution) — which depends far less on the
# machine's load than the rate: the tcp/mode CPU ratio is what the rate ratio would be where
# faultline is the bottleneck. Prints one line per run, then the medians, then the verdict on
# the issue's target (protocol mode >= 85% of tcp mode's rate).
set -u
SECS=${1:-5}
ROUNDS=${2:-3}
PG_CLIENTS=${PG_CLIENTS:-4}
REDIS_N=${REDIS_N:-100000}
cd "$(dirname "$0")/.."
export BUILD=${BUILD:-build}
FL=${FL_BIN:-$BUILD/faultline}   # FL_BIN: another binary (a before/after run alternates two)
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
source tests/lib.sh
PGB=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)
PERF=$(command -v perf || true)
[ -n "$PERF" ] && ! "$PERF" stat -e task-clock -- true >/dev/null 2>&1 && PERF=

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

# measure CMD... -> "RATE COUNT CPU_US_PER_REQUEST" (stdout of CMD: "RATE COUNT")
measure() {
    local out cpu_ms t0 t1 ps
    if [ -n "$PERF" ]; then
        "$PERF" stat -e task-clock -x, -p "$FL_PID" -o "$TT/perf.out" >/dev/null 2>&1 &
        ps=$!
        sleep 0.2
        out=$("$@")
        kill -INT "$ps" 2>/dev/null; wait "$ps" 2>/dev/null
        cpu_ms=$(awk -F, '/task-clock/ {print $1; exit}' "$TT/perf.out")
    else
        t0=$(cpu_ticks "$FL_PID"); out=$("$@"); t1=$(cpu_ticks "$FL_PID")
        cpu_ms=$(awk -v d=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { print d * 1000 / hz }')
    fi
    echo "$out ${cpu_ms:-0}" | awk '{ printf "%d %d %.2f\n", $1, $2, $2 ? $3 * 1000 / $2 : 0 }'
}
pgb() {   # pgb PORT MODE -> "tps count"
    "$PGB" -h 127.0.0.1 -p "$1" -U postgres -S -M "$2" -c "$PG_CLIENTS" -j 2 -T "$SECS" postgres 2>/dev/null |
        awk '/actually processed/ {split($NF, a, "/"); n = a[1]} /^tps/ {t = int($3)} END {print t + 0, n + 0}'
}
rb() {    # rb PORT TEST PIPELINE -> "req/s count"
    timeout 120 redis-benchmark -h 127.0.0.1 -p "$1" -n "$REDIS_N" -c 16 -P "$3" -q -t "$2" 2>/dev/null |
        tr '\r' '\n' | awk -v n="$REDIS_N" '/requests per second/ {print int($2), n; exit}'
}
# run KEY NAME DIRECT_CMD TCP_CMD MODE_CMD ROUND: one round of one benchmark
run() {
    local key=$1 name=$2 d t m
    d=$($3 | cut -d' ' -f1)
    if [ $(( $6 % 2 )) = 1 ]; then t=$(measure $4); m=$(measure $5)
    else m=$(measure $5); t=$(measure $4); fi
    set -- $t $m
    printf '%-5s %-40s direct=%-7s tcp=%-7s mode=%-7s mode/tcp=%4s%% cpu_us/req tcp=%-6s mode=%-6s\n' \
        "r$ROUND" "$name" "$d" "$1" "$4" "$(awk -v a="$4" -v b="$1" 'BEGIN { printf "%.0f", b ? 100 * a / b : 0 }')" "$3" "$6"
    echo "$key $d $1 $4 $3 $6" >>"$TT/rows"
}
echo "# $(nproc) cores, shared machine; pgbench -T ${SECS}s -c $PG_CLIENTS, redis-benchmark -n $REDIS_N -c 16; $ROUNDS rounds;" \
    "CPU from $([ -n "$PERF" ] && echo 'perf stat task-clock' || echo '/proc utime+stime')"
NAMES=()
for ROUND in $(seq "$ROUNDS"); do
    echo "# round $ROUND, load average $(cut -d' ' -f1 /proc/loadavg)"
    for m in simple prepared; do
        run "pg-$m" "pgbench -S -M $m (tps)" "pgb $PGPORT $m" "pgb $PT $m" "pgb $PP $m" "$ROUND"
    done
    for tst in get set; do
        for pl in 1 16; do
            run "redis-$tst-$pl" "redis-benchmark $tst -P $pl (req/s)" "rb $RP $tst $pl" "rb $RT $tst $pl" "rb $RR $tst $pl" "$ROUND"
        done
    done
done
echo
echo "medians of $ROUNDS rounds:"
printf '%-22s %9s %9s %9s %9s %12s %12s %10s\n' benchmark direct tcp mode mode/tcp cpu_us_tcp cpu_us_mode tcp/mode_cpu
med() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
for key in $(awk '{print $1}' "$TT/rows" | uniq | awk '!s[$0]++'); do
    rows=$(grep "^$key " "$TT/rows")
    d=$(awk '{print $2}' <<<"$rows" | med); t=$(awk '{print $3}' <<<"$rows" | med); m=$(awk '{print $4}' <<<"$rows" | med)
    ct=$(awk '{print $5}' <<<"$rows" | med); cm=$(awk '{print $6}' <<<"$rows" | med)
    share=$(awk '{ print ($3 ? 100 * $4 / $3 : 0) }' <<<"$rows" | med)
    cshare=$(awk '{ print ($6 ? 100 * $5 / $6 : 0) }' <<<"$rows" | med)
    printf '%-22s %9s %9s %9s %8.0f%% %12s %12s %9.0f%%\n' "$key" "$d" "$t" "$m" "$share" "$ct" "$cm" "$cshare"
    echo "$share" >>"$TT/shares"; echo "$cshare" >>"$TT/cshares"
done
min=$(sort -n "$TT/shares" | head -n1)
cmin=$(sort -n "$TT/cshares" | head -n1)
echo "lowest median mode/tcp rate: ${min}% (target >= 85%): $(awk -v m="$min" 'BEGIN { print (m >= 85) ? "PASS" : "FAIL" }')"
echo "lowest median tcp/mode CPU per request (the rate ratio where faultline is the bottleneck): ${cmin}%"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
