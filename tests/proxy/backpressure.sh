#!/usr/bin/env bash
# Backpressure: with a slow reader on either side, faultline's memory stays bounded (the
# per-direction buffer bound, 256 KiB by default) while 200 MiB are pushed at it: its RSS grows by
# less than 30 MiB over where it started (growth, so that an ASan build's own overhead does not
# count); once the reader speeds up, every byte arrives intact.
. "$(dirname "$0")/../lib.sh"

N=$((200 * 1048576))
LIMIT_KB=$((30 * 1024))
start_peer SRC 127.0.0.1:0 source $N
"$TBIN/flstream" slowserve 127.0.0.1:0 1000000 3 >"$TT/slow.out" 2>&1 &
_PIDS+=($!)
wait_for 5 grep -q '^listening ' "$TT/slow.out"
SLOW=$(sed -n 's/^listening //p' "$TT/slow.out")
LD=$(free_port); LU=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy down]
listen = 127.0.0.1:$LD
upstream = 127.0.0.1:$SRC
[proxy up]
listen = 127.0.0.1:$LU
upstream = 127.0.0.1:$SLOW
INI
"$FL" serve "$TT/p.ini" 2>"$TT/fl.log" &
FL_PID=$!; _PIDS+=($FL_PID); FL_LOG=$TT/fl.log
wait_for 5 grep -q 'event=started' "$FL_LOG" || { fail start "faultline did not start"; exit 1; }
rss0=$(rss_kb "$FL_PID")

# sample the RSS every 0.2 s while a transfer runs; prints the peak in KiB
peak_rss() {
    local peak=0 r
    while kill -0 "$1" 2>/dev/null; do
        r=$(rss_kb "$FL_PID"); [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
        sleep 0.2
    done
    echo "$peak"
}

# upstream -> slow client (1 MB/s for 3 s, then full speed)
"$TBIN/flstream" slowread "127.0.0.1:$LD" 1000000 3 >"$TT/down.out" 2>&1 &
R=$!
peak=$(peak_rss $R)
wait $R
out=$(cat "$TT/down.out")
direct=$("$TBIN/flpeer" read "127.0.0.1:$SRC")
check down_slow_reader_rss_bounded [ $((peak - rss0)) -lt $LIMIT_KB ]
echo "# down: rss start ${rss0} KiB, peak ${peak} KiB; $out"
check down_all_bytes_exact [ "$(kv "$out" bytes)" = $N -a "$(kv "$out" fnv)" = "$(kv "$direct" fnv)" ]
check down_took_the_slow_phase within "$(kv "$out" ms)" 2900 60000

# client -> slow upstream (the upstream reads 1 MB/s for 3 s, then full speed)
"$TBIN/flstream" send "127.0.0.1:$LU" $N >"$TT/up.out" 2>&1 &
W=$!
peak=$(peak_rss $W)
wait $W
out=$(cat "$TT/up.out")
wait_for 10 grep -q '^bytes=' "$TT/slow.out"
got=$(grep '^bytes=' "$TT/slow.out")
echo "# up: peak ${peak} KiB; client: $out; upstream: $got"
check up_slow_reader_rss_bounded [ $((peak - rss0)) -lt $LIMIT_KB ]
check up_all_bytes_exact [ "$(kv "$got" bytes)" = $N -a "$(kv "$got" fnv)" = "$(kv "$out" fnv)" ]
check still_running kill -0 "$FL_PID"
done_tests
