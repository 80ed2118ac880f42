#!/usr/bin/env bash
# Per-request hang and its on_end: release delivers the held request's answer when the fault
# window closes, keep leaves it hung, reset resets the client; abandonment ends the pair.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP"
cat >>"$TT/p.ini" <<INI
[fault rel-fwd]
proxy = web
type = hang
duration = 1s
on_end = release
match_path = /relfwd
[fault rel-hold]
proxy = web
type = hang
forward = no
duration = 1s
on_end = release
match_path = /relhold
[fault keep]
proxy = web
type = hang
duration = 1s
match_path = /keep
[fault rst]
proxy = web
type = hang
duration = 1s
on_end = reset
match_path = /rst
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
P=http://127.0.0.1:$LP
curl -s -m 5 -o "$TT/relfwd" -w '%{http_code} %{time_total}\n' $P/relfwd >"$TT/o1" & w1=$!
curl -s -m 5 -o "$TT/relhold" -w '%{http_code} %{time_total}\n' -X POST -d 'abc' $P/relhold >"$TT/o2" & w2=$!
(curl -s -m 3 -o /dev/null $P/keep; echo $? >"$TT/o3") & w3=$!
(curl -s -m 5 -o /dev/null $P/rst; echo $? >"$TT/o4") & w4=$!
wait $w1 $w2 $w3 $w4
read -r code t <"$TT/o1"
check release_forward_answered [ "$code" = 200 ]
# the window starts with the daemon, curl a little later on a loaded machine: bound loosely
check release_forward_after_window within "$t" 0.3 4
read -r code t <"$TT/o2"
check release_hold_answered [ "$code" = 200 ]
check release_hold_body_forwarded [ "$(cat "$TT/relhold")" = "bytes=3 fnv=$(printf 'abc' | python3 -c 'import sys
h=1469598103934665603
for b in sys.stdin.buffer.read(): h=((h^b)*1099511628211)&0xFFFFFFFFFFFFFFFF
print("%016x"%h)')" ]
check keep_stays_hung [ "$(cat "$TT/o3")" = 28 ]
check reset_on_end [ "$(cat "$TT/o4")" = 56 ]
# after the window, the same paths are served normally
check after_window [ "$(curl -s -m 5 $P/keep)" = hello ]
check proxy_alive kill -0 "$FL_PID"
done_tests
