#!/usr/bin/env bash
# Address forms on both sides: IPv6 [::1], unix sockets, a DNS name upstream (resolved by evdns
# from /etc/hosts: no query leaves the machine), and an upstream that is down.
. "$(dirname "$0")/../lib.sh"

start_peer E4 127.0.0.1:0 echo
start_peer E6 '[::1]:0' echo
start_peer EU "unix:$TT/up.sock" echo
DOWN=$(free_port)
L1=$(free_port); L2=$(free_port); L3=$(free_port); L4=$(free_port); L5=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
log = debug
[proxy v6]
listen = [::1]:$L1
upstream = [::1]:$E6
[proxy v6to4]
listen = [::1]:$L2
upstream = 127.0.0.1:$E4
[proxy unixboth]
listen = unix:$TT/fl.sock
upstream = unix:$TT/up.sock
[proxy tcp2unix]
listen = 127.0.0.1:$L3
upstream = unix:$TT/up.sock
[proxy unix2tcp]
listen = unix:$TT/fl2.sock
upstream = [::1]:$E6
[proxy byname]
listen = 127.0.0.1:$L4
upstream = localhost:$E4
[proxy down]
listen = 127.0.0.1:$L5
upstream = 127.0.0.1:$DOWN
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
wait_for 5 test -S "$TT/fl2.sock"

for c in "v6 [::1]:$L1" "v6_to_v4 [::1]:$L2" "unix_both unix:$TT/fl.sock" "tcp_to_unix 127.0.0.1:$L3" \
         "unix_to_v6 unix:$TT/fl2.sock" "dns_name_upstream 127.0.0.1:$L4"; do
    set -- $c
    out=$("$TBIN/flpeer" echo "$2" 300000)
    check "$1_exact" [ "$(kv "$out" match)" = yes ]
done
# peers are shown as [v6]:port and "unix" in the close lines
check v6_peer_logged grep -q 'event=close .*proxy=v6 peer=\[::1\]:[0-9]' "$FL_LOG"
check unix_peer_logged grep -q 'event=close .*proxy=unixboth peer=unix' "$FL_LOG"

# upstream down: the client's connection is closed at once, and each failure is logged
# (start_fl's readiness probe was the first failure: count from there)
wait_for 3 grep -q 'event=upstream_failed .*proxy=down' "$FL_LOG"
base=$(grep -c 'event=upstream_failed .*proxy=down' "$FL_LOG")
for i in 1 2 3; do
    out=$("$TBIN/flpeer" call "127.0.0.1:$L5" 3000)
    r=$(kv "$out" result); ms=$(kv "$out" ms)
    if { [ "$r" = eof ] || [ "$r" = reset ]; } && within "$ms" 0 1500; then pass "upstream_down_closed_$i"
    else fail "upstream_down_closed_$i" "$out"; fi
done
n_failed() { grep -c 'event=upstream_failed .*proxy=down' "$FL_LOG"; }
wait_for 3 test "$(n_failed)" -ge $((base + 3))
check upstream_down_logged_each [ "$(n_failed)" = $((base + 3)) ]
check upstream_down_reason grep -q 'event=upstream_failed .*error="Connection refused"' "$FL_LOG"
check upstream_down_closed_by_proxy [ "$(grep -c 'event=close .*proxy=down .*closed_by=proxy' "$FL_LOG")" = $((base + 3)) ]
check still_running kill -0 "$FL_PID"

# the unix listen sockets are removed on exit
stop_pid "$FL_PID"
check unix_socket_removed_on_exit [ ! -e "$TT/fl.sock" -a ! -e "$TT/fl2.sock" ]
done_tests
