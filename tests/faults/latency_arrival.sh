#!/usr/bin/env bash
# latency counts from the bytes' arrival at the proxy's socket (the kernel's receive time), not
# from when faultline got round to reading them: faultline is stopped (SIGSTOP) for 400 ms just
# as 16 bytes reach it through `latency delay=600ms` (upstream direction); their answer comes
# ~600 ms after they were sent (max(delay, stop)), where a delay counted from the read gives
# stop + delay = 1000 ms. Wide margins both ways (a machine at load 10 adds tens of ms, not 200).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$UP" "$LP" '[fault lat]' 'proxy = p' 'type = latency' 'delay = 600ms' 'direction = upstream'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

out=$("$TBIN/faultc" stalled "127.0.0.1:$LP" "$FL_PID" 400)
echo "# delay 600ms, faultline stopped 400ms as the bytes arrive: $out"
check latency_arrival_warm_round_trip within "$(num "$out" warm_ms)" 590 900
check latency_arrival_counts_from_arrival within "$(num "$out" rtt_ms)" 590 850

# the stop longer than the delay: released as soon as faultline runs again (~700 ms), not 1300
out=$("$TBIN/faultc" stalled "127.0.0.1:$LP" "$FL_PID" 700)
echo "# faultline stopped 700ms: $out"
check latency_arrival_overdue_released_at_once within "$(num "$out" rtt_ms)" 690 1000
check latency_arrival_alive kill -0 "$FL_PID"
done_tests
