#!/usr/bin/env bash
# connect_delay: the client's connect() returns at once (its connect timeout never fires), the
# first bytes wait `delay` -- whichever side speaks first -- and the connection is fast after.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer UP 127.0.0.1:0 echo
start_peer SRC 127.0.0.1:0 source 1000
LP=$(free_port); LS=$(free_port)
fprofile "$TT/p.ini" "$UP" "$LP" '[fault slowopen]' 'proxy = p' 'type = connect_delay' 'delay = 400ms'
cat >>"$TT/p.ini" <<INI
[proxy s]
listen = 127.0.0.1:$LS
upstream = 127.0.0.1:$SRC
[fault greet]
proxy = s
type = connect_delay
delay = 300ms
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$(python3 - "$LP" "$LS" <<'EOF'
import socket, sys, time
t = time.monotonic()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.1)   # a 100 ms connect timeout
conn = (time.monotonic() - t) * 1000
s.settimeout(5)
rtt = []
for _ in range(3):
    t = time.monotonic(); s.sendall(b"x" * 16); got = 0
    while got < 16: got += len(s.recv(64))
    rtt.append((time.monotonic() - t) * 1000)
t = time.monotonic()
g = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5)
g.recv(64)
greet = (time.monotonic() - t) * 1000
print("connect_ms=%.1f first_ms=%.0f next_ms=%.1f greet_ms=%.0f" % (conn, rtt[0], max(rtt[1:]), greet))
EOF
)
echo "# $out"
check connect_delay_connect_instant within "$(kv "$out" connect_ms)" 0 50
check connect_delay_first_byte_waits within "$(kv "$out" first_ms)" 380 900
check connect_delay_then_fast within "$(kv "$out" next_ms)" 0 50
check connect_delay_server_first_waits within "$(kv "$out" greet_ms)" 280 800
fprofile "$TT/p.ini" "$UP" "$LP"
reload || fail reload "no reload"
check connect_delay_removed_counters grep -q 'event=fault_removed fault=slowopen .*conns_affected=[1-9].*bytes_delayed=16 ' "$FL_LOG"
done_tests
