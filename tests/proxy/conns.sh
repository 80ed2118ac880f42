#!/usr/bin/env bash
# 1000 concurrent connections, each echoing its own 16 bytes; descriptors are all given back.
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
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
fds_before=$(ls /proc/$FL_PID/fd | wc -l)

out=$("$TBIN/flpeer" conns "127.0.0.1:$LP" 1000)
check conns_1000_all_echoed [ "$(kv "$out" ok)" = 1000 -a "$(kv "$out" failed)" = 0 ]

# 1000 held at the same moment, each proven proxied end to end
"$TBIN/idleconns" "127.0.0.1:$LP" 1000 3 'x' >"$TT/idle.out" 2>&1 &
IDLE=$!
_PIDS+=($IDLE)
wait_for 20 grep -q '^open=' "$TT/idle.out"
line=$(grep '^open=' "$TT/idle.out")
check conns_1000_held_at_once [ "$(kv "$line" answered)" = 1000 ]
fds_held=$(ls /proc/$FL_PID/fd | wc -l)
check conns_1000_two_fds_each within "$((fds_held - fds_before))" 1990 2010
kill -TERM $IDLE 2>/dev/null
# every descriptor is released once the clients are gone
back() { [ "$(ls /proc/$FL_PID/fd | wc -l)" -le $((fds_before + 2)) ]; }
if wait_for 10 back; then pass conns_fds_released; else fail conns_fds_released "fds: before $fds_before now $(ls /proc/$FL_PID/fd | wc -l)"; fi
check still_running kill -0 "$FL_PID"
done_tests
