#!/usr/bin/env bash
# bench/record.sh [SECONDS_PER_ROUND] -- the recorder's cost (issue 6): small HTTP requests
# through faultline to a private nginx, recording off vs on.
#
# The machine is shared, so "off" and "on" never run one after the other: each round starts two
# faultlines side by side (one without, one with recording into a private Redis) and drives both
# at the same time with two wrk processes (-c 16 each). Both see the same load from everything
# else; the ratio of their request rates in a round is the recorder's cost, Redis's own CPU
# included (it shares the 2 cores). The table gives the median over rounds.
#
#   keepalive: HTTP/1.1 keep-alive through a tcp proxy (many requests per recorded connection)
#   close:     "Connection: close" through a tcp proxy: one recorded connection per request
#   http:      keep-alive through an http-mode proxy: one recorded request event per request
#   control:   as http but neither records: the noise floor of the side-by-side comparison
#
# Also: Redis commands per proxied request (INFO commandstats), Redis memory per 1,000 recorded
# events (INFO memory), CPU per request of each faultline and of Redis, and (with perf) the
# recorder's share of faultline's CPU from sampled call graphs. Loopback only; every process is
# private and killed at exit. Prints markdown.
set -u
SECS=${1:-6}
REPS=${REPS:-5}
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)"; exit 2; }
bench_workdir benchrec
chmod 755 "$W"

NGX=$(free_port); LPA=$(free_port); LPB=$(free_port)

mkdir -p "$W/ngx/logs"
cat >"$W/ngx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $W/ngx/nginx.pid;
error_log $W/ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGX;
        location / { return 200 "hello\n"; }
    }
}
NGX
nginx -p "$W/ngx" -c "$W/ngx/nginx.conf" >/dev/null 2>&1 &
PIDS+=($!)
redis-server --port 0 --unixsocket "$W/redis.sock" --save '' --appendonly no --dir "$W" \
    --daemonize no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -s "$W/redis.sock" ping >/dev/null 2>&1 && break; sleep 0.05; done
wait_port "$NGX" || { echo "nginx did not start"; exit 1; }
R() { redis-cli -s "$W/redis.sock" "$@"; }
calls() { R info commandstats | awk -F'[=,:]' '/^cmdstat_/ { s += $3 } END { print s + 0 }'; }
mem() { R info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }
rcpu() { R info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
HZ=$(getconf CLK_TCK)

profile() {  # profile on|off tcp|http PORT
    { printf '[faultline]\nadmin = off\nlog = warn\n'
      [ "$1" = on ] && printf 'redis = unix:%s\nrun = bench\ninstance = b1\n' "$W/redis.sock"
      printf '[proxy web]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = %s\n' "$3" "$NGX" "$2"
    } >"$W/$1-$2.ini"
}
for m in tcp http; do profile off $m "$LPA"; profile on $m "$LPB"; profile ctl $m "$LPB"; done
EV=fl:run:bench:events:web

# round KIND [B] -> "rps_off rps_on cpu_off cpu_on redis_cpu cmds_per_req bytes_per_1000_events"
round() {
    local mode=tcp hdr=()
    [ "$1" = http ] && mode=http
    [ "$1" = close ] && hdr=(-H "Connection: close")
    R flushall >/dev/null
    "$FL" serve "$W/off-$mode.ini" 2>>"$W/fl.log" & local fa=$!
    "$FL" serve "$W/${2:-on}-$mode.ini" 2>>"$W/fl.log" & local fb=$!
    wait_port "$LPA"; wait_port "$LPB"
    sleep 1.2                                 # the readiness probes recorded, one flush done
    local c0 m0 e0 r0 a0 b0
    c0=$(calls); m0=$(mem); e0=$(R xlen $EV); r0=$(rcpu); a0=$(ticks $fa); b0=$(ticks $fb)
    wrk -t1 -c16 -d"${SECS}s" "${hdr[@]}" "http://127.0.0.1:$LPA/" >"$W/wa.out" 2>&1 &
    local wa=$!
    wrk -t1 -c16 -d"${SECS}s" "${hdr[@]}" "http://127.0.0.1:$LPB/" >"$W/wb.out" 2>&1
    wait "$wa"
    local r1 a1 b1
    r1=$(rcpu); a1=$(ticks $fa); b1=$(ticks $fb)
    sleep 1.3                                 # the last events written, one more flush
    local c1 m1 e1
    c1=$(calls); m1=$(mem); e1=$(R xlen $EV)
    kill "$fa" "$fb"; wait "$fa" "$fb" 2>/dev/null
    local na nb
    na=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$W/wa.out")
    nb=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$W/wb.out")
    [ -n "$na" ] && [ -n "$nb" ] || { echo "wrk failed: $(head -c 300 "$W/wa.out") $(head -c 300 "$W/wb.out")" >&2; echo "0 0 0 0 0 0 0"; return; }
    awk -v na="$na" -v nb="$nb" -v s="$SECS" -v da=$((a1 - a0)) -v db=$((b1 - b0)) -v hz="$HZ" \
        -v r0="$r0" -v r1="$r1" -v dc=$((c1 - c0)) -v dm=$((m1 - m0)) -v ev=$((e1 - e0)) 'BEGIN {
        ca = na > 0 ? da / hz * 1e6 / na : 0
        cb = nb > 0 ? db / hz * 1e6 / nb : 0
        rc = nb > 0 ? (r1 - r0) * 1e6 / nb : 0
        cpr = nb > 0 ? dc / nb : 0
        mpk = ev > 0 ? dm / ev * 1000 : 0
        printf "%.0f %.0f %.1f %.1f %.1f %.4f %.0f\n", na / s, nb / s, ca, cb, rc, cpr, mpk }'
}
med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench/record.sh: ${SECS}s rounds, $REPS rounds per case, off and on side by side in each round;"
echo "$(nproc) cores shared with other work (load average at start: $(cut -d' ' -f1-3 /proc/loadavg))"
echo
echo "| case | req/s off | req/s on | on / off (median of rounds) | rounds (on/off %) | faultline CPU µs/req off → on | Redis CPU µs/req | Redis cmds/req | Redis bytes / 1,000 events |"
echo "|---|---|---|---|---|---|---|---|---|"
for kind in ${KINDS:-keepalive close http control}; do
    ro=(); rn=(); ratios=(); co=(); cn=(); rcs=(); cpr=0; mpk=0
    for i in $(seq 1 "$REPS"); do
        if [ "$kind" = control ]; then
            read -r a b x y rc c m < <(round http ctl)
        else
            read -r a b x y rc c m < <(round "$kind")
        fi
        ro+=("$a"); rn+=("$b"); co+=("$x"); cn+=("$y"); rcs+=("$rc"); cpr=$c; mpk=$m
        ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN { r = a > 0 ? 100 * b / a : 0; printf "%.1f", r }')")
    done
    [ "$kind" = keepalive ] && mpk="– (few events)"
    [ "$kind" = control ] && { kind="control: http, both off"; cpr="–"; mpk="–"; }
    echo "| $kind | $(med "${ro[@]}") | $(med "${rn[@]}") | **$(med "${ratios[@]}")%** | ${ratios[*]} |" \
         "$(med "${co[@]}") → $(med "${cn[@]}") | $(med "${rcs[@]}") | $cpr | $mpk |"
done

perf_share() {  # perf_share tcp|http: the recorder's share of faultline CPU, in %
    local prof=on-tcp hdr=(-H "Connection: close")
    [ "$1" = http ] && prof=on-http hdr=()
    R flushall >/dev/null
    "$FL" serve "$W/$prof.ini" 2>>"$W/fl.log" &
    local fl=$!
    wait_port "$LPB"
    wrk -t1 -c32 -d6s "${hdr[@]}" "http://127.0.0.1:$LPB/" >"$W/wrk.out" 2>&1 &
    local wp=$!
    sleep 1
    perf record -q -F 2000 --call-graph dwarf,16384 -p "$fl" -o "$W/perf.data" -- sleep 3 >/dev/null 2>&1
    wait "$wp"
    kill "$fl"; wait "$fl" 2>/dev/null
    perf report -i "$W/perf.data" --children --sort sym 2>/dev/null |
        awk '/^ +[0-9.]+%/ && ($NF == "rec_conn_close" || $NF == "rec_conn_open" || $NF == "rec_request" || $NF == "rec_request_start" ||
             $NF == "batch_flush" || $NF == "redisAsyncHandleWrite" || $NF == "redisAsyncHandleRead" || $NF == "flush_cb" || $NF == "rec_tick") {
             sub("%", "", $1); s += $1 } END { printf "%.1f", s }'
}
if command -v perf >/dev/null && [ "${PERF:-1}" = 1 ]; then
    echo
    echo "Recorder's share of faultline's own CPU (perf, DWARF call graphs; children of rec_conn_close/open,"
    echo "rec_request(_start), batch_flush, redisAsyncHandleWrite/Read, flush_cb, rec_tick), one faultline alone:"
    echo "- close (one recorded connection per request): **$(perf_share tcp)%**"
    echo "- http (one recorded request event per request): **$(perf_share http)%**"
fi
if grep -q 'record_dropped' "$W/fl.log"; then
    echo
    echo "note: the recorder dropped records during the runs ($(grep -c record_dropped "$W/fl.log") log lines)"
fi
exit 0
