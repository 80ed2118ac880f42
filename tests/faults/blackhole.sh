#!/usr/bin/env bash
# blackhole: everything read is discarded, nothing reaches the upstream or comes back; the
# client's give-up is recorded.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault bh]' 'proxy = p' 'type = blackhole'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
echo "# blackhole: $out"
check blackhole_no_answer [ "$(kv "$out" result)" = timeout ]
wait_for 3 grep -q 'event=close .*closed_by=client fault=bh' "$FL_LOG"
line=$(grep 'event=close .*fault=bh' "$FL_LOG" | tail -n1)
echo "# $line"
check blackhole_nothing_reached_upstream eval '[ "$(kv "$line" bytes_up)" = 0 ] && [ "$(kv "$line" bytes_down)" = 0 ]'
check blackhole_give_up_recorded [ "$(kv "$line" closed_by)" = client ]
# a client that sends everything and half-closes gets nothing back either
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100000 2>&1 | head -n1)
echo "# echo: $out"
check blackhole_echo_gets_nothing [ "$(kv "$out" recv)" = 0 ]
fprofile "$TT/p.ini" "$ECHO" "$LP"
reload || fail reload "no reload"
line=$(fault_line fault_removed bh)
echo "# $line"
check blackhole_counted_dropped within "$(num "$line" bytes_dropped)" 100005 100005
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
check blackhole_removed_flows [ "$(kv "$out" result)" = data ]
done_tests
