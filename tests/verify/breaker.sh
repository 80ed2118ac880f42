#!/usr/bin/env bash
# breaker over several fault windows: two http_error (503) faults on each proxy, 3-6 s and
# 12-15 s (their windows are unioned: two windows). Real clients (tests/peers/vclient.c, 40 calls/s):
#   good   a breaker (opens after 5 failures for 2 s, one probe) in both windows   PASS
#   once   the same breaker, but it never opens again once it has closed           FAIL (window 2 does not drop)
#   stuck  a breaker that stays open 30 s: never closes after window 1             FAIL (window 1 does not recover)
# The detail reports each window's measures.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="good once stuck"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = brk2"; echo "instance = i1"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-a]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 3s\nduration = 3s\n' "$px" "$px"
        printf '[fault %s-b]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 12s\nduration = 3s\n' "$px" "$px"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in $PXS; do
    printf '[expect %s]\ncheck = breaker\nproxy = %s\nopen_within = 1s\nmax_probes = 2\nprobe_window = 2s\nrecover_ratio = 50%%\nrecover_within = 4s\n' \
        "$px" "$px" >>"$TT/e.ini"
done
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --http / --duration 20 --timeout 2000 --pool 4 --rate 40"
$C --addr "127.0.0.1:${P[good]}" --breaker 5,2000 >"$TT/c.good" &
a=$!
$C --addr "127.0.0.1:${P[once]}" --breaker 5,2000 --breaker-once >"$TT/c.once" &
b=$!
$C --addr "127.0.0.1:${P[stuck]}" --breaker 5,30000 >"$TT/c.stuck" &
c=$!
wait $a $b $c
for x in $PXS; do echo "# client $x: $(cat "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" brk2
check exit_1 [ "$VRC" = 1 ]
expect_verdict good PASS
expect_verdict once FAIL
expect_verdict stuck FAIL
line() { echo "$VOUT" | grep "^$1 "; }
check good_two_windows_measured bash -c "echo \"\$1\" | grep -q 'w1: open .*back after.*; w2: open .*back after'" _ "$(line good)"
check good_says_each_window bash -c "echo \"\$1\" | grep -q 'PASS\$'" _ "$(line good)"
check once_fails_in_window_2 bash -c "echo \"\$1\" | grep -q 'FAIL once: window 2: the call rate fell only'" _ "$VOUT"
check stuck_fails_in_window_1 bash -c "echo \"\$1\" | grep -q 'FAIL stuck: window 1: .*the breaker never closed'" _ "$VOUT"
done_tests
