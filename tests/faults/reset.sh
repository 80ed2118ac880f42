#!/usr/bin/env bash
# reset: RST both sides (SO_LINGER 0): the client sees ECONNRESET.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer SRC 127.0.0.1:0 source 10000000
start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port); LE=$(free_port)
prof() {
    {
        printf '[faultline]\nadmin = off\nlog = debug\n'
        printf '[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LP" "$SRC"
        printf '[proxy e]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LE" "$ECHO"
        printf '%s\n' "$@"
    } >"$TT/p.ini"
}
prof '[fault r]' 'proxy = e' 'type = reset'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

out=$("$TBIN/faultc" reads "127.0.0.1:$LE" 2000)
echo "# at connect: $out"
check reset_at_connect_econnreset [ "$(kv "$out" result)" = reset ]

prof '[fault r]' 'proxy = p' 'type = reset' 'after_bytes = 100000'
reload || fail reload "no reload"
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 3000)
echo "# after_bytes: $out"
check reset_after_bytes_econnreset [ "$(kv "$out" result)" = reset ]
check reset_after_bytes_no_more_than_n within "$(num "$out" bytes)" 0 100000
check reset_after_bytes_prefix_intact [ "$(kv "$out" prefix)" = yes ]

prof '[fault r]' 'proxy = e' 'type = reset' 'after = 200ms' 'direction = upstream'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LE" 100)
check reset_after_time_passes_first [ "$(kv "$out" result)" = data ]
out=$("$TBIN/faultc" reads "127.0.0.1:$LE" 3000)
echo "# after 200ms: $out"
check reset_after_time_econnreset [ "$(kv "$out" result)" = reset ]
check reset_after_time_when within "$(num "$out" end_ms)" 180 900
prof
reload || fail reload "no reload"
line=$(fault_line fault_removed r)
echo "# $line"
check reset_counted [ "$(kv "$line" resets)" = 1 ]
done_tests
