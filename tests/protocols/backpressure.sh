#!/usr/bin/env bash
# Protocol modes keep what they cannot pass yet in the client's input: behind a held request
# (redis_hang, pg_hang) every later pipelined request waits there. That input counts against
# [faultline] buffer like the output does: faultline stops reading the client, and the client
# is slowed by TCP backpressure, not by faultline's memory. A client floods ~256 MiB of
# pipelined requests behind a held one for 4 s: it gets only a few MiB into the sockets, the
# proxy's RSS stays flat, other connections are served, and once the hold is released (fault
# deleted, on_end = release) the flood flows and is answered.
cd "$(dirname "$0")/../.."
source tests/lib.sh

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
start_postgres || { fail pg_start "postgres did not start"; done_tests; exit; }
RP=$(free_port); PP=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
buffer = 256KiB
[proxy cache]
listen = 127.0.0.1:$RP
upstream = unix:$REDIS_SOCK
mode = redis
[proxy db]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$PGPORT
mode = postgres
[fault rhold]
proxy = cache
type = redis_hang
on_end = release
match_key = held:*
[fault phold]
proxy = db
type = pg_hang
on_end = release
match_query = held_here
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
rss0=$(rss_kb "$FL_PID")

# flood.py PORT KIND SECONDS: a held request first, then pipelined ones for SECONDS; prints
# sent=BYTES; then, once a line arrives on stdin (the test deleted the fault), reads answers
# for up to 20 s until the held one and the next have come: answers_bytes=N
cat >"$TT/flood.py" <<'EOF'
import socket, struct, sys, time
port, kind, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=5)
if kind == "redis":
    first = b"*2\r\n$3\r\nGET\r\n$6\r\nheld:1\r\n"
    val = b"x" * 65536
    one = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$65536\r\n" + val + b"\r\n"
else:
    def msg(t, body): return t + struct.pack("!I", len(body) + 4) + body
    params = b"user\0postgres\0database\0postgres\0\0"
    s.sendall(struct.pack("!II", len(params) + 8, 196608) + params)
    buf = b""
    while b"Z\0\0\0\x05" not in buf:            # ReadyForQuery after the (trust) login
        d = s.recv(65536)
        if not d: print("login failed"); sys.exit(1)
        buf += d
    first = msg(b"Q", b"select 'held_here'\0")
    one = msg(b"Q", b"select '" + b"y" * 65000 + b"'\0")
s.sendall(first)
s.settimeout(0.2)
sent, end, pend = 0, time.time() + secs, b""
while time.time() < end and sent < 256 * 1048576:
    if not pend: pend = one
    try:
        n = s.send(pend)                         # whole messages only: a partial send goes on
        sent += n
        pend = pend[n:]
    except socket.timeout:
        pass
print("sent=%d" % sent, flush=True)
sys.stdin.readline()                             # the test has released the hold
s.settimeout(10)
if pend: s.sendall(pend)                         # the rest of a partly sent message
s.settimeout(2)
got, end = b"", time.time() + 20
while time.time() < end:
    try:
        d = s.recv(1 << 20)
    except socket.timeout:
        continue
    if not d: break
    got += d
    if kind == "redis" and got.count(b"\r\n") >= 2: break
    if kind == "pg" and got.count(b"Z\0\0\0\x05") >= 2: break
print("answers_bytes=%d" % len(got), flush=True)
EOF

for kind in redis pg; do
    port=$RP; fault=rhold
    [ $kind = pg ] && { port=$PP; fault=phold; }
    mkfifo "$TT/in.$kind"
    python3 "$TT/flood.py" "$port" "$kind" 4 <"$TT/in.$kind" >"$TT/out.$kind" 2>&1 &
    F=$!
    exec 7>"$TT/in.$kind"
    wait_for 15 grep -q "sent=" "$TT/out.$kind"
    sent=$(sed -n 's/^sent=//p' "$TT/out.$kind")
    rss=$(rss_kb "$FL_PID")
    echo "# $kind: client got ${sent:-?} bytes into the sockets in 4 s; rss ${rss0} -> ${rss} KiB"
    check ${kind}_client_held_back eval '[ -n "$sent" ] && [ "$sent" -lt $((64 * 1048576)) ]'
    check ${kind}_rss_flat eval '[ $((rss - rss0)) -lt 32768 ]'
    check ${kind}_others_served bash -c "[ \"\$(timeout 5 redis-cli -h 127.0.0.1 -p $RP ping)\" = PONG ]"
    check ${kind}_fault_deleted test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -XDELETE "http://127.0.0.1:$AP/faults/$fault")" = 204
    echo go >&7
    exec 7>&-
    wait_for 30 bash -c "! kill -0 $F 2>/dev/null"
    got=$(sed -n 's/^answers_bytes=//p' "$TT/out.$kind")
    check ${kind}_flows_after_release eval '[ -n "$got" ] && [ "$got" -gt 0 ]'
done
check still_running kill -0 "$FL_PID"
stop_pid "$FL_PID"
done_tests
