#!/usr/bin/env bash
# The recovery check counts a held http call once. http mode, a hang fault (on_end = keep) from
# 3 s for 2 s, real curl clients: calls before it (the baseline), then two calls with no timeout
# that the hang catches and that stay held until the daemon stops at about 10 s, well past the
# fault's end + within (2 s). Each held call is in the record twice -- its request
# (held_at_end=1) and its connection (hang_ms) -- and is one leaked call: "2 held left open",
# not 4. The same two calls through a tcp proxy (connection events only) say the same.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PH=$(free_port); PT=$(free_port)
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = rh1"; echo "instance = i1"
    printf '[proxy web]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$PH" "$UP"
    printf '[proxy raw]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PT" "$UP"
    printf '[fault stall]\nproxy = web\ntype = hang\non_end = keep\nstart = 3s\nduration = 2s\n'
    printf '[fault stall-raw]\nproxy = raw\ntype = hang\non_end = keep\nstart = 3s\nduration = 2s\n'
} >"$TT/p.ini"
printf '[expect rec]\ncheck = recovery\nproxy = web\nwithin = 2s\n' >"$TT/e.ini"
printf '[expect rec-raw]\ncheck = recovery\nproxy = raw\nwithin = 2s\n' >>"$TT/e.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
for i in 1 2 3 4; do
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$PH/base"
    curl -s -m 2 -o /dev/null "http://127.0.0.1:$PT/base"
    sleep 0.5
done
sleep 1.5   # into the hang (from 3 s)
for i in 1 2; do
    curl -s -o /dev/null "http://127.0.0.1:$PH/held$i" &       # no timeout: held
    _PIDS+=($!)
    curl -s -o /dev/null "http://127.0.0.1:$PT/held$i" &
    _PIDS+=($!)
done
sleep 6.5   # the fault ends at 5 s; within (2 s) runs out at 7 s; the run ends at about 10 s
stop_pid "$FL_PID"
n=$(rcli xrange fl:run:rh1:events:web - + | grep -c '^held_at_end$')
check record_has_request_and_conn_held [ "$n" = 4 ]
vverify "$TT/e.ini" rh1
expect_verdict rec FAIL
expect_verdict rec-raw FAIL
check http_held_counted_once bash -c "echo \"\$1\" | grep '^rec ' | grep -q '; 2 held left open'" _ "$VOUT"
check tcp_held_counted_once bash -c "echo \"\$1\" | grep '^rec-raw ' | grep -q '; 2 held left open'" _ "$VOUT"
check why_plural bash -c "echo \"\$1\" | grep -q 'FAIL rec: 2 connections still open 2s after the fault'" _ "$VOUT"
done_tests
