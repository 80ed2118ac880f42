#!/usr/bin/env bash
# Half-close is passed on in both directions, and the other direction keeps flowing.
. "$(dirname "$0")/../lib.sh"

start_peer SINK 127.0.0.1:0 sink
# flstream halfserve: sends 1 MiB, shutdown(SHUT_WR), then reads until EOF and reports
"$TBIN/flstream" halfserve 127.0.0.1:0 1048576 >"$TT/half.out" 2>&1 &
_PIDS+=($!)
wait_for 5 grep -q '^listening ' "$TT/half.out"
HALF=$(sed -n 's/^listening //p' "$TT/half.out")
LK=$(free_port); LH=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
log = debug
[proxy sink]
listen = 127.0.0.1:$LK
upstream = 127.0.0.1:$SINK
[proxy half]
listen = 127.0.0.1:$LH
upstream = 127.0.0.1:$HALF
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

# client shutdown(SHUT_WR): the upstream sees EOF only after every byte (its count and hash are
# right), and its answer still comes back down the open direction
for n in 0 1 1048576; do
    out=$("$TBIN/flstream" send "127.0.0.1:$LK" "$n")
    if echo "$out" | grep -q "reply=\"OK $n $(kv "$out" fnv)\"" && [ "$(kv "$out" result)" = eof ]; then
        pass "client_halfclose_${n}_then_answer"
    else
        fail "client_halfclose_${n}_then_answer" "$out"
    fi
done

# upstream shutdown(SHUT_WR) after 1 MiB: the client reads EOF after all of it, then sends 1 MiB
# up the still-open direction, and the upstream receives all of it
# (start_fl's readiness probe was the upstream's first connection: wait for its report)
wait_for 10 grep -q '^got=' "$TT/half.out"
out=$("$TBIN/flstream" halfclient "127.0.0.1:$LH" 1048576)
check upstream_halfclose_client_gets_all [ "$(kv "$out" recv)" = 1048576 ] 
check upstream_halfclose_client_sees_eof [ "$(kv "$out" result)" = eof ]
two() { [ "$(grep -c "$1" "$2")" -ge 2 ]; }
wait_for 10 two '^got=' "$TT/half.out"
got=$(grep '^got=' "$TT/half.out" | tail -n1)
if [ "$(kv "$got" got)" = 1048576 ] && [ "$(kv "$got" fnv)" = "$(kv "$out" sfnv)" ]; then
    pass upstream_halfclose_other_direction_flows
else
    fail upstream_halfclose_other_direction_flows "client: $out; upstream: $got"
fi
# the half-open pair ended cleanly once both sides were done (debug close line)
wait_for 5 two "event=close .*proxy=half" "$FL_LOG"
line=$(grep "event=close .*proxy=half" "$FL_LOG" | tail -n1)
check halfclose_pair_closed_with_counts [ "$(kv "$line" bytes_up)" = 1048576 -a "$(kv "$line" bytes_down)" = 1048576 ]
done_tests
