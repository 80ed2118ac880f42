#!/usr/bin/env bash
# refuse: the listener closes while active (ECONNREFUSED) and reopens when the fault ends;
# connections already open are untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

# a live connection streaming through the whole window
"$TBIN/faultc" pace "127.0.0.1:$LP" 200000 2000 20 >"$TT/pace.out" &
PACE=$!
sleep 0.2
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault no]' 'proxy = p' 'type = refuse' 'duration = 1s'
reload || fail reload "no reload"
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 3 500)
echo "# during: $out"
check refuse_econnrefused [ "$(kv "$out" refused)" = 3 ]
wait_for 5 grep -q 'event=fault_end fault=no ' "$FL_LOG"
# the fault counts the connections it refused (a packet socket sees their SYNs: root here)
echo "# $(fault_line fault_end no)"
check refuse_counted [ "$(kv "$(fault_line fault_end no)" refused)" = 3 ]
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 3 1000)
echo "# after: $out"
check refuse_recovers_after_duration [ "$(kv "$out" data)" = 3 ]
wait $PACE
echo "# live: $(cat "$TT/pace.out")"
check refuse_existing_connection_untouched grep -q 'match=yes' "$TT/pace.out"

# SIGUSR1 (kill) reopens as well
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault no2]' 'proxy = p' 'type = refuse'
reload || fail reload "no reload"
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 1 500)
check refuse_until_removed [ "$(kv "$out" refused)" = 1 ]
kill -USR1 "$FL_PID"
wait_for 5 grep -q 'event=fault_end fault=no2 ' "$FL_LOG"
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 1 1000)
check refuse_kill_reopens [ "$(kv "$out" data)" = 1 ]
done_tests
