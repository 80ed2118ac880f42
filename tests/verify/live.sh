#!/usr/bin/env bash
# verify while the daemon still records the run: its record is not complete (a connection's
# event is written when it closes), so verify decides from what the record holds -- every
# instance wrote ended_ms, or stopped writing its series long ago (gone) -- and otherwise
#   waits (--wait, default 10 s) for the run to end: a daemon stopped during the wait is judged;
#   still live after the wait: every verdict INCONCLUSIVE, saying the run is still recorded;
#   --live judges the record as it stands, at once.
# A daemon killed without a word (SIGKILL: no ended_ms) is judged once its series go stale.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
profile() {   # RUN PORT
    printf '[faultline]\nadmin = off\nredis = %s\nrun = %s\ninstance = i1\n' "$REDIS_URL" "$1"
    printf '[proxy api]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$2" "$UP"
    printf '[fault api-hang]\nproxy = api\ntype = hang\nstart = 1s\nduration = 2s\n'
}
printf '[expect t]\ncheck = timeout\nproxy = api\nwithin = 2s\n' >"$TT/e.ini"
P1=$(free_port)
profile live1 "$P1" >"$TT/p1.ini"
start_fl "$TT/p1.ini" || { fail start "faultline did not start"; exit 1; }
"$TBIN/vclient" --addr "127.0.0.1:$P1" --rate 20 --duration 4 --timeout 500 --pool 5 >"$TT/c1"
echo "# client: $(cat "$TT/c1")"

# still live: a bounded wait, then said plainly
t0=$(date +%s%3N)
vverify "$TT/e.ini" live1 --wait 1s
t1=$(date +%s%3N)
check live_exit_3 [ "$VRC" = 3 ]
expect_verdict t INCONCLUSIVE live
check live_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE t: run live1 is still being recorded (instance i1 wrote .*s ago): its record is not complete'" _ "$VOUT"
check live_note bash -c "echo \"\$1\" | grep -q '^run live1 is still being recorded'" _ "$VOUT"
check live_waited_about_1s within $((t1 - t0)) 900 4000
# --live: judged now, as it stands
vverify "$TT/e.ini" live1 --live
expect_verdict t PASS live_flag

# the default wait: the daemon stops during it, and the complete record is judged
( sleep 1.5; kill -TERM "$FL_PID" ) &
t0=$(date +%s%3N)
vverify "$TT/e.ini" live1
t1=$(date +%s%3N)
check waited_exit_0 [ "$VRC" = 0 ]
expect_verdict t PASS waited
check waited_until_the_end within $((t1 - t0)) 1300 9000
check record_has_end [ -n "$(rcli hget fl:run:live1:meta:i1 ended_ms)" ]

# a daemon killed without writing its end: judged once it has been silent long enough
P2=$(free_port)
profile live2 "$P2" >"$TT/p2.ini"
start_fl "$TT/p2.ini" || { fail start2 "faultline did not start"; exit 1; }
"$TBIN/vclient" --addr "127.0.0.1:$P2" --rate 20 --duration 4 --timeout 500 --pool 5 >"$TT/c2"
kill -KILL "$FL_PID"
check killed_has_no_end [ -z "$(rcli hget fl:run:live2:meta:i1 ended_ms)" ]
t0=$(date +%s%3N)
vverify "$TT/e.ini" live2 --wait 15s
t1=$(date +%s%3N)
check killed_judged [ "$VRC" = 0 ]
expect_verdict t PASS killed
check killed_not_called_live bash -c "! echo \"\$1\" | grep -q 'still being recorded'" _ "$VOUT"
check killed_judged_within_stale_bound within $((t1 - t0)) 0 9000
done_tests
