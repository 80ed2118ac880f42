#!/usr/bin/env bash
# start / duration / ttl windows: the fault acts only inside its window.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault w]' 'proxy = p' 'type = latency' 'delay = 150ms' 'start = 1s' 'duration = 1s'
reload || fail reload "no reload"
# "fast" is below the delay itself (150 ms: a delayed trip cannot come sooner), not a guess at
# the machine's speed (a loaded machine's undelayed trip can take 100 ms)
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
check window_before_start_fast within "$(num "$out" max_ms)" 0 149
# inside: once the window has opened (its log line), not at a fixed time after the SIGHUP: the
# window opens 1 s after the reload is applied, and on a loaded machine that came late enough
# that a trip sent at +1.3 s straddled the opening (114 ms)
wait_for 10 grep -q 'event=fault_start fault=w ' "$FL_LOG"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
echo "# inside: $out"
check window_inside_slow within "$(num "$out" min_ms)" 140 400
wait_for 10 grep -q 'event=fault_end fault=w ' "$FL_LOG"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
check window_after_duration_fast within "$(num "$out" max_ms)" 0 149
check window_start_logged grep -q 'event=fault_start fault=w ' "$FL_LOG"
check window_end_logged grep -q 'event=fault_end fault=w .*reason=duration' "$FL_LOG"

# a live connection sees the window open and close
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault w2]' 'proxy = p' 'type = latency' 'delay = 150ms' 'start = 500ms' 'duration = 700ms'
reload || fail reload "no reload"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 60)
echo "# live conn through the window: $out"
check window_live_conn_max_slow within "$(num "$out" max_ms)" 140 500
check window_live_conn_min_fast within "$(num "$out" min_ms)" 0 50

# ttl removes the fault
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault t]' 'proxy = p' 'type = latency' 'delay = 150ms' 'ttl = 500ms'
reload || fail reload "no reload"
wait_for 5 grep -q 'event=fault_expired fault=t ' "$FL_LOG"
check ttl_expired_logged grep -q 'event=fault_expired fault=t .*reason=ttl' "$FL_LOG"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
check ttl_removed_fast within "$(num "$out" max_ms)" 0 149
# disabled faults never act
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault off]' 'proxy = p' 'type = latency' 'delay = 150ms' 'enabled = no'
reload || fail reload "no reload"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
check disabled_fault_inert within "$(num "$out" min_ms)" 0 149   # an acting 150 ms delay makes every round trip slow
done_tests
