#!/usr/bin/env bash
# bench/soak.sh [DURATION_SECONDS] -- soak test (issue 9): mixed faults switched every few
# seconds by reload under a steady bounded load, recording into a private Redis. Samples the
# proxy's RSS and open descriptors every 30 s. Pass = after the first minute neither grows by
# more than 10%, and the log holds no error line. Prints a table and a verdict line; exit 1 on
# failure. Default duration 600 s (10 minutes). Loopback only.
set -u
DUR=${1:-600}
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$BUILD/faultline
T=$BUILD/t
[ -x "$FL" ] && [ -x "$T/flpeer" ] || { echo "build first: make"; exit 2; }
bench_workdir soak

redis-server --port 0 --unixsocket "$W/redis.sock" --save '' --appendonly no --dir "$W" \
    --daemonize no --loglevel warning >/dev/null 2>&1 &
PIDS+=($!)
"$T/flpeer" serve 127.0.0.1:0 echo >"$W/echo.port" & PIDS+=($!)
sleep 0.5
ECHO=$(sed -n 's/^listening //p' "$W/echo.port")
PORT=$(free_port)

faultset() {  # faultset N -> a [fault] block
    case $(( $1 % 6 )) in
    0) ;;
    1) printf '[fault f]\nproxy = echo\ntype = latency\ndelay = 20ms\njitter = 5ms\n' ;;
    2) printf '[fault f]\nproxy = echo\ntype = bandwidth\nrate = 1MiB\n' ;;
    3) printf '[fault f]\nproxy = echo\ntype = drop\nafter_bytes = 20KiB\nprobability = 0.3\n' ;;
    4) printf '[fault f]\nproxy = echo\ntype = reset\nafter_bytes = 10KiB\nprobability = 0.2\n' ;;
    5) printf '[fault f]\nproxy = echo\ntype = hang\nprobability = 0.1\non_end = reset\nduration = 4s\n' ;;
    esac
}
write_profile() {
    { printf '[faultline]\nadmin = off\nlog = warn\nredis = unix:%s\nrun = soak-%s\n' "$W/redis.sock" "$$"
      printf '[proxy echo]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PORT" "$ECHO"
      faultset "$1"; } >"$W/p.ini"
}
write_profile 0
"$FL" serve "$W/p.ini" 2>"$W/fl.log" &
FLP=$!
PIDS+=($FLP)
for i in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done

END=$(( $(date +%s) + DUR ))
for w in 1 2 3 4; do
    ( while [ "$(date +%s)" -lt "$END" ]; do timeout 10 "$T/flpeer" echo "127.0.0.1:$PORT" 65536 8192 >/dev/null 2>&1; done ) &
    PIDS+=($!)
done

echo "| t (s) | RSS (KiB) | fds | connections done |"
echo "|---:|---:|---:|---:|"
start=$(date +%s); n=0; base_rss=0; base_fd=0; max_rss=0; max_fd=0; fails=""
while [ "$(date +%s)" -lt "$END" ]; do
    sleep 5
    n=$((n + 1))
    write_profile "$n"; kill -HUP "$FLP"
    el=$(( $(date +%s) - start ))
    if [ $((n % 6)) -eq 0 ]; then
        rss=$(awk '/^VmRSS/ {print $2}' /proc/$FLP/status 2>/dev/null || echo 0)
        fds=$(ls /proc/$FLP/fd 2>/dev/null | wc -l)
        acc=$(redis-cli -s "$W/redis.sock" --raw eval "local t=0 for _,k in ipairs(redis.call('keys','fl:run:*:counters:*')) do t=t+tonumber(redis.call('hget',k,'accepted') or 0) end return t" 0 2>/dev/null)
        echo "| $el | $rss | $fds | ${acc:-?} |"
        if [ "$el" -ge 60 ] && [ "$base_rss" -eq 0 ]; then base_rss=$rss; base_fd=$fds; fi
        [ "$rss" -gt "$max_rss" ] && [ "$base_rss" -gt 0 ] && max_rss=$rss
        [ "$fds" -gt "$max_fd" ] && [ "$base_rss" -gt 0 ] && max_fd=$fds
    fi
done
kill -0 "$FLP" 2>/dev/null || fails="$fails proxy-died"
errs=$(grep -c 'level=error' "$W/fl.log")
[ "$errs" -eq 0 ] || fails="$fails errors-in-log($errs)"
if [ "$base_rss" -gt 0 ]; then
    [ "$max_rss" -le $(( base_rss * 110 / 100 )) ] || fails="$fails rss-grew($base_rss->$max_rss)"
    [ "$max_fd" -le $(( base_fd * 110 / 100 + 8 )) ] || fails="$fails fds-grew($base_fd->$max_fd)"
fi
echo
echo "baseline after 60s: rss=${base_rss}KiB fds=$base_fd; max after: rss=${max_rss}KiB fds=$max_fd; error lines: $errs"
if [ -z "$fails" ]; then echo "soak: PASS (${DUR}s)"; else echo "soak: FAIL:$fails"; exit 1; fi
