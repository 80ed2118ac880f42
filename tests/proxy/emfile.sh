#!/usr/bin/env bash
# Out of descriptors (EMFILE): with `ulimit -n 63` and 64 and 150 clients at once, faultline does not
# crash, does not spin (CPU stays low, at most about one accept_error line per second), serves
# what it can, and serves again as soon as clients leave.
. "$(dirname "$0")/../lib.sh"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$ECHO
INI
# both parities of the limit: with 63 the last descriptor goes to an accepted client whose
# upstream socket then fails (EMFILE from socket(), not accept())
for LIM in 63 64; do
    N=150
    # soft and hard limit $LIM: serve's raise to the hard limit changes nothing
    ( ulimit -n $LIM; exec "$FL" serve "$TT/p.ini" ) 2>"$TT/fl.$LIM.log" &
    FL_PID=$!; _PIDS+=($FL_PID); FL_LOG=$TT/fl.$LIM.log
    wait_port "$LP" 10 || { fail start_$LIM "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
    check limit_applied_$LIM grep -q "Max open files *$LIM *$LIM " "/proc/$FL_PID/limits"

    # $N clients hold their connections for 6 s; about 28 pairs fit in 63 or 64 descriptors
    "$TBIN/idleconns" "127.0.0.1:$LP" $N 6 'x' 3 >"$TT/idle.$LIM.out" 2>&1 &
    IDLE=$!; _PIDS+=($IDLE)
    wait_for 10 grep -q '^open=' "$TT/idle.$LIM.out"
    line=$(grep '^open=' "$TT/idle.$LIM.out")
    echo "# clients: $line"
    a=$(kv "$line" answered)
    check some_served_$LIM within "$a" 10 60
    check not_all_served_$LIM [ "$a" -lt $N ]
    check alive_under_emfile_$LIM kill -0 "$FL_PID"

    # no busy loop: CPU over 2 s while out of descriptors with clients waiting
    c0=$(cpu_ticks "$FL_PID"); sleep 2; c1=$(cpu_ticks "$FL_PID")
    echo "# cpu ticks in 2 s: $((c1 - c0))"
    check no_busy_loop_$LIM [ $((c1 - c0)) -le 20 ]
    errs=$(grep -c 'event=accept_error\|event=accept_failed' "$FL_LOG")
    echo "# accept error lines: $errs"
    check log_rate_limited_$LIM [ "$errs" -le 12 ]
    check emfile_logged_$LIM grep -q 'error="Too many open files"' "$FL_LOG"

    # once the clients leave, service resumes
    wait $IDLE
    serves() { [ "$(kv "$("$TBIN/flpeer" echo "127.0.0.1:$LP" 1000 2>/dev/null)" match)" = yes ]; }
    check service_resumes_$LIM wait_for 10 serves
    out=$("$TBIN/flpeer" conns "127.0.0.1:$LP" 20)
    check serves_20_after_$LIM [ "$(kv "$out" ok)" = 20 ]
    check still_running_$LIM kill -0 "$FL_PID"
    stop_pid "$FL_PID"
done
done_tests
