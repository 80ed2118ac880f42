#!/usr/bin/env bash
# Composition: faults on one proxy chain in definition order (latency then bandwidth, slicer
# then limit_data).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 65536
LP=$(free_port)
fprofile "$TT/p.ini" "$SRC" "$LP" \
    '[fault lat]' 'proxy = p' 'type = latency' 'delay = 300ms' \
    '[fault bw]' 'proxy = p' 'type = bandwidth' 'rate = 64KiB'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
echo "# latency 300ms then bandwidth 64KiB/s, 64 KiB: $out"
check compose_all_bytes eval '[ "$(kv "$out" bytes)" = 65536 ] && [ "$(kv "$out" prefix)" = yes ]'
check compose_first_byte_delayed within "$(num "$out" first_ms)" 280 700
# 64 KiB at 64 KiB/s after 300 ms: ~1.3 s in all
check compose_total_time within "$(num "$out" last_ms)" 1150 1900

fprofile "$TT/p.ini" "$SRC" "$LP" \
    '[fault sli]' 'proxy = p' 'type = slicer' 'size = 1000' 'delay = 25ms' \
    '[fault lim]' 'proxy = p' 'type = limit_data' 'bytes = 4500'
reload || fail reload "no reload"
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
echo "# slicer 1000 then limit_data 4500: $out"
check compose_slicer_then_limit eval '[ "$(kv "$out" bytes)" = 4500 ] && [ "$(kv "$out" prefix)" = yes ] && [ "$(kv "$out" result)" = eof ]'
# The pieces leave 25 ms apart; a client stalled longer than that on a noisy machine reads two
# at once, so assert the split (several reads, none larger than two pieces), not one read each.
check compose_slicer_pieces eval '[ "$(kv "$out" reads)" -ge 3 ] && within "$(num "$out" max_read)" 1 2000'
done_tests
