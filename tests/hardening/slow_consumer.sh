#!/usr/bin/env bash
# Slow consumer (issue 9, scaled for the suite; bench/slow_consumer.sh runs the full 1 GiB at
# 1 MiB/s): 64 MiB from the upstream to a client reading at 4 MiB/s, and at the same time an
# upstream sending 1 GiB as fast as it can through a `bandwidth` fault of 64 KiB/s to a client
# reading for 16 s. The proxy's RSS stays under 64 MiB (and grows by less than 32 MiB, which is
# what is checked for sanitizer/valgrind builds, whose baseline is larger), every byte of the
# slow transfer arrives intact, the bandwidth fault delivers about 1 MiB.
. "$(dirname "$0")/../lib.sh"

N=$((64 * 1048576))
start_peer SRC 127.0.0.1:0 source $N
start_peer BIG 127.0.0.1:0 source $((1024 * 1048576))
PS=$(free_port); PB=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy slow]
listen = 127.0.0.1:$PS
upstream = 127.0.0.1:$SRC
[proxy bw]
listen = 127.0.0.1:$PB
upstream = 127.0.0.1:$BIG
[fault bw64]
proxy = bw
type = bandwidth
rate = 64KiB
direction = downstream
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
rss0=$(rss_kb "$FL_PID")
direct=$("$TBIN/flpeer" read "127.0.0.1:$SRC")

"$TBIN/readfor" "127.0.0.1:$PS" 45 4194304 >"$TT/slow.out" &
R1=$!
"$TBIN/readfor" "127.0.0.1:$PB" 16 >"$TT/bw.out" &
R2=$!
peak=0
while kill -0 $R1 2>/dev/null || kill -0 $R2 2>/dev/null; do
    r=$(rss_kb "$FL_PID"); [ -n "$r" ] && [ "$r" -gt "$peak" ] && peak=$r
    sleep 0.25
done
wait $R1 $R2
slow=$(cat "$TT/slow.out"); bw=$(cat "$TT/bw.out")
echo "# rss start ${rss0} KiB, peak ${peak} KiB"
echo "# 64 MiB at 4 MiB/s: $slow"
echo "# bandwidth 64 KiB/s for 16 s: $bw"
sanitized=0
if grep -q -a __asan_init "$FL" 2>/dev/null || [ -n "${VALGRIND:-}" ]; then sanitized=1; fi
if [ $sanitized = 0 ]; then check rss_under_64mib [ "$peak" -lt 65536 ]; fi
check rss_growth_under_32mib [ $((peak - rss0)) -lt 32768 ]
check slow_reader_all_bytes_exact eval '[ "$(kv "$slow" bytes)" = $N ] && [ "$(kv "$slow" fnv)" = "$(kv "$direct" fnv)" ] && [ "$(kv "$slow" result)" = eof ]'
check slow_reader_was_slow within "$(kv "$slow" ms)" 14000 45000
check bandwidth_about_1mib within "$(kv "$bw" bytes)" 524288 1572864
check still_running kill -0 "$FL_PID"
done_tests
