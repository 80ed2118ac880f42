#!/usr/bin/env bash
# timeout: held like hang, then both sides closed after `timeout` (0 = never).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault t]' 'proxy = p' 'type = timeout' 'timeout = 500ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 3000)
echo "# timeout 500ms: $out"
check timeout_closes [ "$(kv "$out" result)" = eof ]
check timeout_closes_on_time within "$(num "$out" ms)" 450 1200

fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault t]' 'proxy = p' 'type = timeout' 'timeout = 0'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1500)
check timeout_zero_never_closes [ "$(kv "$out" result)" = timeout ]

fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault t]' 'proxy = p' 'type = timeout' 'timeout = 5s' 'duration = 500ms' 'on_end = release'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 3000)
echo "# release: $out"
check timeout_release_delivers [ "$(kv "$out" result)" = data ]
check timeout_release_at_end within "$(num "$out" ms)" 100 1300   # window starts at the reload, the call some time after it

fprofile "$TT/p.ini" "$ECHO" "$LP"
reload || fail reload "no reload"
line=$(fault_line fault_removed t)
check timeout_counted [ "$(kv "$line" conns_affected)" = 1 ]

fprofile "$TT/bad.ini" "$ECHO" "$LP" '[fault x]' 'proxy = p' 'type = timeout' 'timeout = soon'
"$FL" check "$TT/bad.ini" >"$TT/err" 2>&1; rc=$?
check timeout_bad_value_exit2 [ "$rc" = 2 ]
check timeout_bad_value_line grep -q "bad.ini:10:.*timeout" "$TT/err"
done_tests
