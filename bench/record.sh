#!/usr/bin/env bash
# bench/record.sh [SECONDS_PER_RUN] -- the recorder's cost (issue 6): small HTTP requests through
# a faultline TCP pass-through to a private nginx, with recording off and on, alternated.
#
#   keepalive: wrk -c 32, HTTP/1.1 keep-alive: many requests per connection (the recorder's work
#              is per connection, so this is the data path plus the t_last_up clock read)
#   close:     wrk -c 32 with "Connection: close": one connection (one recorded event) per request
#   http:      as keepalive, through an http-mode proxy: one recorded request event per request
#
# Also reports Redis commands per proxied request (INFO commandstats before/after) and Redis
# memory per 1,000 recorded connections (INFO memory used_memory over the events added).
# Loopback only; every process is private and killed at exit. Prints a markdown table.
set -u
SECS=${1:-8}
REPS=${REPS:-3}
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)"; exit 2; }
command -v nginx >/dev/null || { echo "needs nginx (apt-get install nginx-light)"; exit 2; }
D=$(mktemp -d /tmp/benchrec.XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; sleep 0.3; rm -rf "$D"; }
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap "for p in \"\${PIDS[@]}\"; do kill \$p 2>/dev/null; done" EXIT

port() { echo $((20000 + RANDOM % 30000)); }
NGX=$(port); LP=$(port)

mkdir -p "$D/ngx/logs"
cat >"$D/ngx/nginx.conf" <<NGX
worker_processes 1;
daemon off;
pid $D/ngx/nginx.pid;
error_log $D/ngx/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$NGX reuseport;
        location / { return 200 "hello\n"; }
    }
}
NGX
nginx -p "$D/ngx" -c "$D/ngx/nginx.conf" >/dev/null 2>&1 &
PIDS+=($!)
redis-server --port 0 --unixsocket "$D/redis.sock" --save '' --appendonly no --dir "$D" \
    --daemonize no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do
    redis-cli -s "$D/redis.sock" ping >/dev/null 2>&1 && (exec 3<>"/dev/tcp/127.0.0.1/$NGX") 2>/dev/null && break
    sleep 0.05
done
R() { redis-cli -s "$D/redis.sock" "$@"; }

profile() {  # profile on|off tcp|http
    { printf '[faultline]\nadmin = off\nlog = warn\n'
      [ "$1" = on ] && printf 'redis = unix:%s\nrun = bench\ninstance = b1\n' "$D/redis.sock"
      printf '[proxy web]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = %s\n' "$LP" "$NGX" "$2"
    } >"$D/$1-$2.ini"
}
for m in on off; do profile $m tcp; profile $m http; done

calls() { R info commandstats | awk -F'[=,:]' '/^cmdstat_/ { s += $3 } END { print s + 0 }'; }
rcpu() { R info cpu | awk -F: '/^used_cpu_(sys|user):/ { s += $2 } END { printf "%.6f", s }'; }
mem() { R info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# run MODE(on|off) KIND(keepalive|close|http) -> "rps cmds/req bytes/1000-events events cpu-us/req redis-cpu-us/req"
run() {
    local mode=tcp
    [ "$2" = http ] && mode=http
    "$FL" serve "$D/$1-$mode.ini" 2>>"$D/fl.log" &
    local fl=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$LP") 2>/dev/null && break; sleep 0.05; done
    sleep 1.2                                  # the probe recorded, one flush done
    local hdr=()
    [ "$2" = close ] && hdr=(-H "Connection: close")
    local c0 m0 e0
    c0=$(calls); m0=$(mem); e0=$(R xlen fl:run:bench:events:web)
    local t0 r0
    t0=$(awk '{print $14 + $15}' "/proc/$fl/stat"); r0=$(rcpu)
    wrk -t1 -c32 -d"${SECS}s" "${hdr[@]}" "http://127.0.0.1:$LP/" >"$D/wrk.out" 2>&1
    grep -q "requests in" "$D/wrk.out" || { echo "wrk failed: $(head -c 300 "$D/wrk.out")" >&2; }
    local t1 r1
    t1=$(awk '{print $14 + $15}' "/proc/$fl/stat"); r1=$(rcpu)
    sleep 1.3                                  # the last events and one more flush
    local c1 m1 e1
    c1=$(calls); m1=$(mem); e1=$(R xlen fl:run:bench:events:web)
    kill "$fl"; wait "$fl" 2>/dev/null
    local reqs rps
    reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$D/wrk.out")
    rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$D/wrk.out")
    local ev=$((e1 - e0))
    awk -v rps="$rps" -v reqs="$reqs" -v dc=$((c1 - c0)) -v dm=$((m1 - m0)) -v ev="$ev" -v on="$1" \
        -v dt=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v r0="$r0" -v r1="$r1" 'BEGIN {
        cpr = (on == "on" && reqs > 0) ? dc / reqs : 0
        mpk = (on == "on" && ev > 0) ? dm / ev * 1000 : 0
        fcpu = reqs > 0 ? dt / hz * 1e6 / reqs : 0
        rcpu = reqs > 0 ? (r1 - r0) * 1e6 / reqs : 0
        printf "%.0f %.4f %.0f %d %.2f %.2f\n", rps, cpr, mpk, ev, fcpu, rcpu }'
}

echo "# bench/record.sh: ${SECS}s per run, $REPS alternated runs per case, $(nproc) cores (shared: noisy)"
echo
echo "| case | recording | req/s (median of $REPS) | runs | faultline CPU µs / request | Redis CPU µs / request | Redis cmds / request | Redis bytes / 1,000 recorded events |"
echo "|---|---|---|---|---|---|---|---|"
for kind in ${KINDS:-keepalive close http}; do
    offs=(); ons=(); cpr=0; mpk=0; cpu_off=(); cpu_on=(); rc_on=()
    for i in $(seq 1 "$REPS"); do
        # off/on, then on/off: neither always runs second (TIME_WAIT build-up, warm caches)
        order="off on"; [ $((i % 2)) -eq 0 ] && order="on off"
        for mode in $order; do
            R flushall >/dev/null
            if [ "$mode" = off ]; then
                read -r a _ _ _ u _ < <(run off "$kind"); offs+=("$a"); cpu_off+=("$u")
            else
                read -r b c m _ u rc < <(run on "$kind"); ons+=("$b"); cpr=$c; mpk=$m; cpu_on+=("$u"); rc_on+=("$rc")
            fi
        done
    done
    med() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
    mo=$(med "${offs[@]}"); mn=$(med "${ons[@]}")
    [ "$kind" = keepalive ] && mpk="– (few connections)"
    echo "| $kind | off | $mo | ${offs[*]} | $(med "${cpu_off[@]}") | – | – | – |"
    echo "| $kind | on | $mn | ${ons[*]} | $(med "${cpu_on[@]}") | $(med "${rc_on[@]}") | $cpr | $mpk |"
    awk -v a="$mo" -v b="$mn" -v k="$kind" 'BEGIN { r = a > 0 ? 100 * b / a : 0; printf "| %s | on / off | **%.1f%%** | | | | | |\n", k, r }'
done
# Where faultline's CPU goes with recording on, one connection per request (the recorder's worst
# case): perf samples with DWARF call graphs, the recorder's entry points summed (children %).
# Unlike req/s this barely depends on what else the shared machine is doing.
perf_share() {  # perf_share tcp|http: the recorder's share of faultline CPU, in %
    local prof=on-tcp hdr=(-H "Connection: close")
    [ "$1" = http ] && prof=on-http hdr=()
    R flushall >/dev/null
    "$FL" serve "$D/$prof.ini" 2>>"$D/fl.log" &
    local fl=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$LP") 2>/dev/null && break; sleep 0.05; done
    wrk -t1 -c32 -d6s "${hdr[@]}" "http://127.0.0.1:$LP/" >"$D/wrk.out" 2>&1 &
    local wp=$!
    sleep 1
    perf record -q -F 2000 --call-graph dwarf,16384 -p "$fl" -o "$D/perf.data" -- sleep 3 >/dev/null 2>&1
    wait "$wp"
    kill "$fl"; wait "$fl" 2>/dev/null
    perf report -i "$D/perf.data" --children --sort sym 2>/dev/null |
        awk '/^ +[0-9.]+%/ && ($NF == "rec_conn_close" || $NF == "rec_conn_open" || $NF == "rec_request" || $NF == "rec_request_start" ||
             $NF == "batch_flush" || $NF == "redisAsyncHandleWrite" || $NF == "redisAsyncHandleRead" || $NF == "flush_cb" || $NF == "rec_tick") {
             sub("%", "", $1); s += $1 } END { printf "%.1f", s }'
}
if command -v perf >/dev/null && [ "${PERF:-1}" = 1 ]; then
    echo
    echo "Recorder's share of faultline's CPU (perf, DWARF call graphs; children of rec_conn_close/open,"
    echo "rec_request(_start), batch_flush, redisAsyncHandleWrite/Read, flush_cb, rec_tick):"
    echo "- close (one recorded connection per request): **$(perf_share tcp)%**"
    echo "- http (one recorded request event per request): **$(perf_share http)%**"
fi
grep -q 'record_dropped' "$D/fl.log" && echo && echo "note: the recorder dropped records during the runs: $(grep -c record_dropped "$D/fl.log") log lines"
exit 0
