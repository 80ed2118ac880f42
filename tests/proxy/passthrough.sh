#!/usr/bin/env bash
# Bytes pass through unchanged both ways, with half-close, over TCP.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

for n in 1 1000 65536 1048576 10485760; do
    out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" "$n")
    check "echo_${n}_bytes_exact" [ "$(kv "$out" match)" = yes ]
done
done_tests
