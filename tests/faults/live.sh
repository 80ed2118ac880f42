#!/usr/bin/env bash
# Live changes: faults added, changed and removed (SIGHUP reload) while connections stream;
# every byte still arrives, in order, exactly once.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

# four paced streams of 600 KB each (1000 B every 5 ms, ~3 s) through the changes below
PACES=()
for i in 1 2 3 4; do "$TBIN/faultc" pace "127.0.0.1:$LP" 600000 1000 5 >"$TT/pace.$i" & PACES+=($!); done
step() { sleep 0.35; fprofile "$TT/p.ini" "$ECHO" "$LP" "$@"; reload || fail "reload_$RANDOM" "no reload"; }
LAT=('[fault lat]' 'proxy = p' 'type = latency' 'delay = 30ms' 'jitter = 25ms' 'direction = both')
SLI=('[fault sli]' 'proxy = p' 'type = slicer' 'size = 300' 'size_jitter = 200' 'delay = 1ms')
BW=('[fault bw]' 'proxy = p' 'type = bandwidth' 'rate = 1MiB' 'direction = upstream')
HANG=('[fault h]' 'proxy = p' 'type = hang' 'on_end = release' 'duration = 300ms' 'direction = both')
step "${LAT[@]}"                                       # add latency (both directions)
step "${LAT[@]}" "${SLI[@]}"                           # add a slicer behind it
step "${SLI[@]}" "${LAT[@]/30ms/40ms}"                 # reorder + change latency
step "${SLI[@]}" "${BW[@]}"                            # remove latency, add bandwidth
step "${HANG[@]}" "${BW[@]}"                           # a hang that releases after 300 ms
step "${HANG[@]}" "${BW[@]}"                           # (unchanged: kept)
step                                                   # remove everything
wait "${PACES[@]}"
for i in 1 2 3 4; do
    echo "# stream $i: $(cat "$TT/pace.$i")"
    check "live_changes_stream_${i}_every_byte_in_order" grep -q 'match=yes' "$TT/pace.$i"
done
# a fault added to idle open connections acts on them: 3 round trips, latency added between
check live_fault_reached_open_conns grep -q 'event=fault_removed fault=lat .*conns_affected=4' "$FL_LOG"
check live_alive kill -0 "$FL_PID"
done_tests
