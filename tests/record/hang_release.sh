#!/usr/bin/env bash
# A call held by a `hang` fault with on_end = release, from a client with no short timeout: the
# fault ends, the held bytes flow, the client gets its answer. The connection event keeps when
# the hold began (hang_ms) and says when it ended (hang_end_ms) -- releasing must not erase the
# hold, or the verifier cannot see a client that waited the whole window: `check = timeout`
# with a bound shorter than the wait fails on it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../verify/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = rel-1
instance = r1
drain = 500ms
[proxy svc]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault brief]
proxy = svc
type = hang
on_end = release
start = 500ms
duration = 1500ms
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
R=fl:run:rel-1
wait_for 5 grep -q 'event=fault_start fault=brief ' "$FL_LOG"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 8000)
echo "# call: $out"
check released_call_answered [ "$(kv "$out" result)" = data ]
check released_call_waited within "$(kv "$out" ms)" 700 4000
wait_for 10 bash -c "redis-cli -s $REDIS_SOCK --raw xrange $R:events:svc - + | grep -q hang_end_ms"
e=$(events "$R:events:svc" | grep 'fault=brief' | grep hang_end_ms | tail -n1)
echo "# event: $e"
h=$(kv "$e" hang_ms); he=$(kv "$e" hang_end_ms)
check hang_ms_kept [ -n "$h" ]
check hang_end_after_hang within "$(awk -v a="$he" -v b="$h" 'BEGIN { print a - b }')" 700 4000
check released_not_a_give_up [ -z "$(kv "$e" gave_up_ms)" ]
check released_not_held_at_end [ -z "$(kv "$e" held_at_end)" ]
check released_bytes_down [ "$(kv "$e" bytes_down)" = 5 ]
stop_pid "$FL_PID"

cat >"$TT/e.ini" <<INI
[expect short]
check = timeout
proxy = svc
within = 300ms
[expect long]
check = timeout
proxy = svc
within = 10s
INI
vverify "$TT/e.ini" rel-1
# the client waited ~1 s, past 300 ms, without giving up: a client with no (short) timeout
expect_verdict short FAIL
# held for less than 10 s and released by the fault: proves nothing
expect_verdict long INCONCLUSIVE
done_tests
