#!/usr/bin/env bash
# limit_data: FIN after exactly `bytes` in the direction.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 5000000
start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault lim]' 'proxy = p' 'type = limit_data' 'bytes = 1MiB'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
for i in 1 2 3; do
    out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
    echo "# bytes 1MiB: $out"
    check "limit_data_exact_$i" [ "$(kv "$out" bytes)" = 1048576 ] && [ "$(kv "$out" prefix)" = yes ] && [ "$(kv "$out" result)" = eof ]
done
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault lim]' 'proxy = p' 'type = limit_data' 'bytes = 1'
reload || fail reload "no reload"
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
check limit_data_one_byte eval '[ "$(kv "$out" bytes)" = 1 ] && [ "$(kv "$out" result)" = eof ]'

# upstream direction through an echo: the echo of exactly 1000 bytes (of 5000 sent) comes back
# only if the close waits for nothing; what is checked is that no more than 1000 come back
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault lim]' 'proxy = p' 'type = limit_data' 'bytes = 1000' 'direction = upstream'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 5000 500)
echo "# upstream 1000: $out"
check limit_data_upstream_cut within "$(num "$out" recv)" 0 1000

fprofile "$TT/bad.ini" "$SRC" "$LP" '[fault x]' 'proxy = p' 'type = limit_data'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check limit_data_missing_bytes_exit2 [ "$rc" = 2 ]
check limit_data_missing_bytes_named grep -q "bad.ini:[0-9]*:.*bytes" "$TT/err"
done_tests
