#!/usr/bin/env bash
# bandwidth: a stream limited to `rate` bytes/s, within ±5% over 10 s (64 KiB/s from a fast source).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 100000000
LP=$(free_port)
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault slow]' 'proxy = p' 'type = bandwidth' 'rate = 64KiB'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

t0=$(cpu_ticks "$FL_PID")
out=$("$TBIN/faultc" rate "127.0.0.1:$LP" 10)
t1=$(cpu_ticks "$FL_PID")
echo "# 64KiB/s for 10 s: $out cpu_ticks=$((t1 - t0))"
check bandwidth_64k_within_5pct within "$(num "$out" rate)" $((65536 * 95 / 100)) $((65536 * 105 / 100))
check bandwidth_64k_runs_10s within "$(num "$out" secs)" 9.5 10.5
# 100 timer ticks a second must stay cheap: under 5% of a core
check bandwidth_cpu_small within $((t1 - t0)) 0 50

# a short high-rate check: 4 MiB/s for 2 s (bytes pass intact: the prefix of the source)
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault fast]' 'proxy = p' 'type = bandwidth' 'rate = 4MiB'
reload || fail reload "no reload"
out=$("$TBIN/faultc" rate "127.0.0.1:$LP" 2)
echo "# 4MiB/s for 2 s: $out"
# never above the rate (+10%); below it only by what a starved machine costs the source and the
# reader: the bucket holds one tick's worth while the stage is empty (no burst after a pause), so
# a source that stalls loses that time. Seen: 75% beside an ASan suite and two other lanes; a
# limiter at half the rate still fails
check bandwidth_4m_at_most_rate within "$(num "$out" rate)" $((4194304 * 60 / 100)) $((4194304 * 110 / 100))

# bad rate
fprofile "$TT/bad.ini" "$SRC" "$LP" '[fault x]' 'proxy = p' 'type = bandwidth' 'rate = fast'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check bandwidth_bad_rate_exit2 [ "$rc" = 2 ]
check bandwidth_bad_rate_names_line grep -q "bad.ini:10:.*rate" "$TT/err"
fprofile "$TT/bad.ini" "$SRC" "$LP" '[fault x]' 'proxy = p' 'type = bandwidth'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check bandwidth_missing_rate_exit2 [ "$rc" = 2 ]
check bandwidth_missing_rate_named grep -q "bad.ini:[0-9]*:.*rate" "$TT/err"
done_tests
