#!/usr/bin/env bash
# redis_error, redis_latency and redis_hang on a real redis-server, seen by redis-cli and
# redis-benchmark; pipelined answers keep their order; abandonment of held commands is recorded;
# protocol garbage from either side closes that connection and is counted.
cd "$(dirname "$0")/../.."
source tests/lib.sh
trap '' PIPE

start_redis || { fail redis_start "redis did not start"; done_tests; exit; }
start_peer SRC 127.0.0.1:0 source 4096 || { fail peer_start; done_tests; exit; }
P=$(free_port); G=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
[proxy cache]
listen = 127.0.0.1:$P
upstream = unix:$REDIS_SOCK
mode = redis
[proxy junk]
listen = 127.0.0.1:$G
upstream = 127.0.0.1:$SRC
mode = redis
[fault loading]
proxy = cache
type = redis_error
error = LOADING
match_key = loading:*
[fault readonly]
proxy = cache
type = redis_error
error = READONLY
match_command = set
match_key = ro:*
[fault busy]
proxy = cache
type = redis_error
error = BUSY
match_command = eval*
[fault moved]
proxy = cache
type = redis_error
error = MOVED
moved_to = 127.0.0.1:7001
match_key = moved:*
[fault custom]
proxy = cache
type = redis_error
error = WRONGTYPE Operation against a key holding the wrong kind of value
match_key = custom:*
[fault slow]
proxy = cache
type = redis_latency
delay = 400ms
match_key = slow:*
[fault stuck]
proxy = cache
type = redis_hang
match_key = stuck:*
[fault stuck-briefly]
proxy = cache
type = redis_hang
match_key = brief:*
duration = 3s
on_end = release
[fault flaky-get]
proxy = cache
type = redis_latency
delay = 20ms
probability = 0.05
match_command = get
match_key = key:__rand_int__
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
R="timeout 20 redis-cli -h 127.0.0.1 -p $P"
$R set brief:1 released >/dev/null &
BRIEF=$!
T0=$(date +%s%N)

check loading grep -q "^LOADING Redis is loading the dataset in memory" <<<"$($R get loading:1 2>&1)"
check readonly grep -q "^READONLY You can't write against a read only replica" <<<"$($R set ro:1 x 2>&1)"
check readonly_only_set test "$($R get ro:1 2>&1 | wc -c)" -le 1
check busy grep -q "^BUSY Redis is busy running a script" <<<"$($R eval 'return 1' 0 2>&1)"
check moved_real_slot grep -q "^MOVED 639 127.0.0.1:7001" <<<"$($R get moved:abc 2>&1)"
check moved_hash_tag grep -q "^MOVED 639 127.0.0.1:7001" <<<"$($R get 'moved:{moved:abc}:x' 2>&1)"
check custom_error grep -q "^WRONGTYPE Operation against a key holding" <<<"$($R get custom:1 2>&1)"
check not_forwarded test "$($R exists ro:1)" = 0
# pipelined: an injected error keeps its place among real replies
out=$(printf 'SET a 1\r\nGET loading:2\r\nINCR a\r\nGET custom:2\r\nGET a\r\n' | $R 2>&1 | grep -v '^$' | tr '\n' '|')
check pipelined_order test "$out" = "OK|LOADING Redis is loading the dataset in memory|2|WRONGTYPE Operation against a key holding the wrong kind of value|2|"
# latency: only the matching command waits
t0=$(date +%s%N); $R get slow:1 >/dev/null; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check latency_applied within "$ms" 390 3000
t0=$(date +%s%N); $R get fast:1 >/dev/null; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check latency_others_fast within "$ms" 0 389   # under the 400 ms delay: not delayed
# hang: the client gives up after 1 s; abandonment recorded
timeout 1 redis-cli -h 127.0.0.1 -p "$P" get stuck:1 >/dev/null 2>&1
check hang_never_answered test $? = 124
wait_for 5 grep -q 'event=redis_session .*held_at_close=yes .*closed_by=client' "$FL_LOG"
check hang_abandoned grep -q 'event=redis_session .*inflight_at_close=0 held_at_close=yes .*closed_by=client' "$FL_LOG"
# hang released when its window ends (started at load, 3 s)
wait $BRIEF
ms=$(( ($(date +%s%N) - T0) / 1000000 ))
check hang_released test "$($R get brief:1)" = released
check hang_released_after_window within "$ms" 1500 8000
# redis-benchmark with 20 ms on 5% of GETs: it finishes (it stops at the first error reply, so
# errors are exercised with redis-cli above)
out=$(timeout 60 redis-benchmark -h 127.0.0.1 -p "$P" -n 2000 -c 4 -q -t get 2>&1 | tr '\r' '\n' | grep "requests per second")
echo "# $out"
check benchmark_completes grep -q "GET: .*requests per second" <<<"$out"
# garbage from the client: a multibulk element that is not a bulk string
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf '*1\r\n+PING\r\n' >&3 2>/dev/null
timeout 3 cat <&3 >/dev/null; rc=$?
exec 3>&-
check client_garbage_closed test "$rc" = 0
wait_for 5 grep -q 'event=redis_garbage .*from=client' "$FL_LOG"
check client_garbage_counted grep -q 'event=redis_garbage .*proxy=cache from=client reason="command element is not a bulk string"' "$FL_LOG"
# garbage from the server (random bytes)
out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$G" ping 2>&1)
wait_for 5 grep -q 'event=redis_garbage .*from=server' "$FL_LOG"
check server_garbage_counted grep -q 'event=redis_garbage .*proxy=junk from=server' "$FL_LOG"
check others_unharmed test "$($R ping)" = PONG

stop_pid "$FL_PID"
n=$(grep 'event=redis_session' "$FL_LOG" | grep -o 'errors_injected=[0-9]*' | awk -F= '{s+=$2} END {print s+0}')
check injected_counted within "$n" 8 8
done_tests
