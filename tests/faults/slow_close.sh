#!/usr/bin/env bash
# slow_close: data flows, the upstream's close reaches the client only after `delay`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 100000
LP=$(free_port)
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault sc]' 'proxy = p' 'type = slow_close' 'delay = 600ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
echo "# slow_close 600ms: $out"
check slow_close_all_bytes eval '[ "$(kv "$out" bytes)" = 100000 ] && [ "$(kv "$out" prefix)" = yes ]'
check slow_close_data_fast within "$(num "$out" last_ms)" 0 200
check slow_close_eof_late within "$(num "$out" end_ms)" 580 1400
check slow_close_eof_clean [ "$(kv "$out" result)" = eof ]

# removed while an EOF is being held: the EOF is passed on at once
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault sc]' 'proxy = p' 'type = slow_close' 'delay = 10s'
reload || fail reload "no reload"
"$TBIN/faultc" reads "127.0.0.1:$LP" 5000 >"$TT/r.out" &
RP=$!
sleep 0.5
fprofile "$TT/p.ini" "$SRC" "$LP"
reload || fail reload "no reload"
wait $RP
echo "# removed: $(cat "$TT/r.out")"
check slow_close_removed_passes_eof within "$(num "$(cat "$TT/r.out")" end_ms)" 400 2000

fprofile "$TT/bad.ini" "$SRC" "$LP" '[fault x]' 'proxy = p' 'type = slow_close'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check slow_close_missing_delay_exit2 [ "$rc" = 2 ]
check slow_close_missing_delay_named grep -q "bad.ini:[0-9]*:.*delay" "$TT/err"
done_tests
