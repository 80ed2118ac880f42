#!/usr/bin/env bash
# slicer: data cut into pieces of size ± size_jitter with delay between them.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 2000
LP=$(free_port)
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault cut]' 'proxy = p' 'type = slicer' 'size = 100' 'delay = 20ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 5000)
echo "# size 100 delay 20ms: $out"
check slicer_all_bytes_in_order eval '[ "$(kv "$out" bytes)" = 2000 ] && [ "$(kv "$out" prefix)" = yes ]'
# pieces reach the client apart (a client descheduled for > 20 ms may read two at once)
check slicer_pieces_apart within "$(num "$out" reads)" 10 22
check slicer_smallest_read_is_a_piece within "$(num "$out" min_read)" 1 100
# 20 pieces, 19 pauses of 20 ms
check slicer_spread_over_time within "$(num "$out" last_ms)" 360 1500
check slicer_eof_after_last [ "$(kv "$out" result)" = eof ]

fprofile "$TT/p.ini" "$SRC" "$LP" '[fault cut]' 'proxy = p' 'type = slicer' 'size = 100' 'size_jitter = 50' 'delay = 5ms'
reload || fail reload "no reload"
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 5000)
echo "# size 100±50 delay 5ms: $out"
check slicer_jitter_bytes_intact eval '[ "$(kv "$out" bytes)" = 2000 ] && [ "$(kv "$out" prefix)" = yes ]'
check slicer_jitter_piece_min within "$(num "$out" min_read)" 1 150
check slicer_jitter_spread within "$(num "$out" last_ms)" 40 2000

fprofile "$TT/bad.ini" "$SRC" "$LP" '[fault x]' 'proxy = p' 'type = slicer' 'size = 10' 'size_jitter = 11'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check slicer_bad_jitter_exit2 [ "$rc" = 2 ]
check slicer_bad_jitter_named grep -q "bad.ini:[0-9]*:.*size_jitter" "$TT/err"
done_tests
