#!/usr/bin/env bash
# drop: FIN both sides at connect, after exactly after_bytes, or after `after`.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 1000000
start_peer HOLD 127.0.0.1:0 hold
LP=$(free_port); LH=$(free_port)
prof() {
    {
        printf '[faultline]\nadmin = off\nlog = debug\n'
        printf '[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LP" "$SRC"
        printf '[proxy h]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LH" "$HOLD"
        printf '%s\n' "$@"
    } >"$TT/p.ini"
}
prof '[fault d]' 'proxy = p' 'type = drop'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
echo "# at connect: $out"
check drop_at_connect_eof eval '[ "$(kv "$out" result)" = eof ] && [ "$(kv "$out" bytes)" = 0 ]'

prof '[fault d]' 'proxy = p' 'type = drop' 'after_bytes = 12345'
reload || fail reload "no reload"
for i in 1 2 3; do
    out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
    echo "# after_bytes 12345: $out"
    check "drop_after_bytes_exact_$i" [ "$(kv "$out" bytes)" = 12345 ] && [ "$(kv "$out" prefix)" = yes ] && [ "$(kv "$out" result)" = eof ]
done

prof '[fault d]' 'proxy = h' 'type = drop' 'after = 300ms'
reload || fail reload "no reload"
out=$("$TBIN/faultc" reads "127.0.0.1:$LH" 3000)
echo "# after 300ms: $out"
check drop_after_time_eof [ "$(kv "$out" result)" = eof ]
check drop_after_time_when within "$(num "$out" end_ms)" 280 900

# counters: 1 close on the hold proxy
prof
reload || fail reload "no reload"
line=$(fault_line fault_removed d)
echo "# $line"
check drop_counted_close eval '[ "$(kv "$line" closes)" = 1 ] && [ "$(kv "$line" conns_affected)" = 1 ]'
done_tests
