#!/usr/bin/env bash
# latency: every chunk delayed by delay ± jitter, order kept (round trips through an echo upstream).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$UP" "$LP" '[fault slow]' 'proxy = p' 'type = latency' 'delay = 200ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 10 200)
echo "# delay 200ms: $out"
check latency_all_round_trips [ "$(kv "$out" ok)" = 10 ]
check latency_min_at_least_delay within "$(num "$out" min_ms)" 180 400
check latency_p50_near_delay within "$(num "$out" p50_ms)" 180 400

# jitter keeps order: 2 MB echoed through delay 20ms ± 15ms in both directions, in 4 KiB chunks
fprofile "$TT/p.ini" "$UP" "$LP" '[fault slow]' 'proxy = p' 'type = latency' 'delay = 20ms' 'jitter = 15ms' 'direction = both'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 2000000 4096)
echo "# jitter: $out"
check latency_jitter_keeps_order [ "$(kv "$out" match)" = yes ]
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 10 40)
echo "# jitter rtt: $out"
check latency_jitter_range within "$(num "$out" min_ms)" 8 150

# removed: back to fast
fprofile "$TT/p.ini" "$UP" "$LP"
reload || fail reload "no reload"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 10)
check latency_removed_fast within "$(num "$out" p50_ms)" 0 20
check latency_counters_logged grep -q 'event=fault_removed fault=slow .*conns_affected=[1-9]' "$FL_LOG"
done_tests
