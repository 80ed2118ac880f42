#!/usr/bin/env bash
# latency's release path, seen by strace attached to faultline: every released answer is written
# in the loop turn whose epoll_wait woke for the timer (or, polling towards its deadline, came
# back at once), never through the socket's write event on a later turn (an extra loop turn and
# two epoll_ctl per release, where the p99 of the fault's error used to come from). Structural, so
# it holds on a loaded machine; skipped without strace.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

if ! command -v strace >/dev/null || ! strace -o /dev/null true 2>/dev/null; then
    echo "ok latency_release_same_turn # skip: no usable strace"
    done_tests
    exit 0
fi
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$UP" "$LP" '[fault lat]' 'proxy = p' 'type = latency' 'delay = 50ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
strace -p "$FL_PID" -tt -e trace=epoll_wait,epoll_pwait,writev,write,sendto,sendmsg -o "$TT/st" 2>/dev/null &
ST=$!
sleep 0.5
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 8 50)
kill "$ST" 2>/dev/null
wait "$ST" 2>/dev/null
echo "# $out"
check latency_release_round_trips [ "$(kv "$out" ok)" = 8 ]
# for each released answer (the write of "rtt-..." back to the client), the last epoll_wait
# before it: its events must not include EPOLLOUT (a write event) -- the timer's own wake-up
# (releases leave by writev, evbuffer_write_atmost; the requests go upstream by send on the fast
# path; the first request may wait for the upstream's connect, so round trip 0 is not judged)
res=$(awk '/epoll_wait|epoll_pwait/ { last = $0 }
           /writev\(/ && /rtt-0/ && !/rtt-000000000000/ { n++; if (last ~ /EPOLLOUT/) bad++; }
           END { printf "released=%d via_write_event=%d\n", n, bad + 0 }' "$TT/st")
echo "# $res"
check latency_release_seen within "$(kv "$res" released)" 7 14
check latency_release_same_turn [ "$(kv "$res" via_write_event)" = 0 ]
done_tests
