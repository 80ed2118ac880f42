#!/usr/bin/env bash
# tcp mode's upstream connect (proxy/conn.c, docs/datapath.md): the client's first bytes sent on
# before the connect is known to be done, a server that speaks first to a silent client (the
# connect watch), bytes queued for an upstream whose connect nothing has proven yet (a fault's
# stage on the way), failures at once (a unix socket nobody listens on) and later (a refused
# port), and the connect counters of each.
. "$(dirname "$0")/../lib.sh"

start_peer ECHO 127.0.0.1:0 echo
start_peer SRC 127.0.0.1:0 source 100000
DOWN=$(free_port)
A=$(free_port); L1=$(free_port); L2=$(free_port); L3=$(free_port); L4=$(free_port); L5=$(free_port)
{
    printf '[faultline]\nadmin = 127.0.0.1:%s\nlog = debug\n' "$A"
    px echo "$L1" "127.0.0.1:$ECHO"
    px src "$L2" "127.0.0.1:$SRC"
    px staged "$L3" "127.0.0.1:$ECHO"
    px down "$L4" "127.0.0.1:$DOWN"
    px nosock "$L5" "unix:$TT/nobody.sock"
    cat <<INI
; acting on the way up but passing every byte (the reset comes only after 60 s): the client's
; bytes reach the upstream through the stage, queued until its connect is proven
[fault late_reset]
proxy = staged
type = reset
after = 60s
direction = upstream
INI
} >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
wait_port "$A" || { fail admin "no admin API"; exit 1; }

# the client speaks first: each request goes out before the loop turns, each answer comes back
out=$("$TBIN/faultc" calls "127.0.0.1:$L1" 20 3000)
check client_first_answered [ "$(kv "$out" data)" = 20 ]
out=$("$TBIN/flpeer" echo "127.0.0.1:$L1" 300000)
check client_first_stream_exact [ "$(kv "$out" match)" = yes ]

# the server speaks first and the client says nothing: the connect is proven by the connect
# watch, and the server's bytes flow
out=$("$TBIN/faultc" reads "127.0.0.1:$L2" 5000)
check server_first_all_bytes eval '[ "$(kv "$out" bytes)" = 100000 ] && [ "$(kv "$out" prefix)" = yes ] && [ "$(kv "$out" result)" = eof ]'

# a stage on the way up: the client's bytes are queued for the upstream and leave when the
# connect watch fires (once stalled: the queue was never written, the event fired forever)
out=$("$TBIN/faultc" calls "127.0.0.1:$L3" 20 3000)
check staged_answered [ "$(kv "$out" data)" = 20 ]

# refused port: the client's connection is closed at once and the failure logged
out=$("$TBIN/flpeer" call "127.0.0.1:$L4" 3000)
check refused_closed eval '{ [ "$(kv "$out" result)" = eof ] || [ "$(kv "$out" result)" = reset ]; } && within "$(kv "$out" ms)" 0 1500'
wait_for 5 grep -q 'event=upstream_failed proxy=down .*error="Connection refused"' "$FL_LOG"
check refused_logged grep -q 'event=upstream_failed proxy=down .*error="Connection refused"' "$FL_LOG"

# a unix socket nobody listens on fails inside connect() itself
out=$("$TBIN/flpeer" call "127.0.0.1:$L5" 3000)
check nosock_closed eval '{ [ "$(kv "$out" result)" = eof ] || [ "$(kv "$out" result)" = reset ]; } && within "$(kv "$out" ms)" 0 1500'
wait_for 5 grep -q 'event=upstream_failed proxy=nosock .*error="No such file or directory"' "$FL_LOG"
check nosock_logged grep -q 'event=upstream_failed proxy=nosock .*error="No such file or directory"' "$FL_LOG"
check nosock_closed_by_proxy grep -q 'event=close .*proxy=nosock .*closed_by=proxy' "$FL_LOG"

# counters: every accepted connection to a live upstream counted as connected once (start_fl's
# readiness probe included: it connects and hangs up at once), every one to a dead one as failed
idle() { [ "$(curl -s -m 5 "http://127.0.0.1:$A/stats" | jq '[.proxies[] | .active] | add')" = 0 ]; }
wait_for 10 idle
st=$(curl -s -m 5 "http://127.0.0.1:$A/stats")
echo "# $(echo "$st" | jq -c '.proxies | map_values({accepted, upstream_ok, upstream_failed, active})')"
for p in echo src staged; do
    check "${p}_upstream_ok_each" eval '[ "$(echo "$st" | jq ".proxies.$p.accepted == .proxies.$p.upstream_ok and .proxies.$p.upstream_failed == 0 and .proxies.$p.accepted >= 2")" = true ]'
done
for p in down nosock; do
    check "${p}_upstream_failed_each" eval '[ "$(echo "$st" | jq ".proxies.$p.accepted == .proxies.$p.upstream_failed and .proxies.$p.upstream_ok == 0 and .proxies.$p.accepted >= 2")" = true ]'
done
done_tests
