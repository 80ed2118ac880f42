#!/usr/bin/env bash
# Bad input on an http proxy: malformed request -> 400 and close; head over 64 KiB -> 431 and
# close; upstream garbage or early close -> 502 when nothing was sent yet, else the client
# connection is closed. The proxy survives all of it and keeps serving.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
A=127.0.0.1:$LP

out=$("$TBIN/httpc" -t 3000 $A 'RAW:GARBAGE \x01\x02 NOT HTTP\r\n\r\n')
check malformed_400 [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p')" = 400 ]
out=$("$TBIN/httpc" -t 3000 $A 'RAW:GET / HTTP/1.1\r\nHost: x\r\nBad Header Without Colon\r\n\r\n')
check bad_header_400 [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p')" = 400 ]
# after the 400 the connection is closed: a second request gets no answer
out=$("$TBIN/httpc" -t 3000 $A 'RAW:BAD\r\n\r\n' 'GET /')
r=$(echo "$out" | tail -n1 | cut -d' ' -f1)
check closed_after_400 [ "$r" = result=eof -o "$r" = result=reset ]
# a valid request then garbage, pipelined: the valid one is answered first, then 400
out=$("$TBIN/httpc" -p -t 3000 $A 'GET /sleep/100' 'RAW:XX YY ZZ\r\n\r\n')
check pipelined_then_400 [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "200 400 " ]

big=$(head -c 70000 /dev/zero | tr '\0' a)
check header_70KiB_431 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $big" http://$A/)" = 431 ]
big=$(head -c 60000 /dev/zero | tr '\0' a)
check header_60KiB_ok [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "X-Big: $big" http://$A/)" = 200 ]
# a head that never ends is cut at 64 KiB too
out=$(python3 - "$LP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"GET / HTTP/1.1\r\n")
try:
    for i in range(200):
        s.sendall(b"X-A: " + b"b" * 1000 + b"\r\n")
except OSError:
    pass
d = b""
try:
    while True:
        c = s.recv(4096)
        if not c: break
        d += c
except OSError:
    pass
print(d.split(b"\r\n")[0].decode(errors="replace"))
PY
)
check endless_head_431 [ "$out" = "HTTP/1.1 431 Request Header Fields Too Large" ]

check upstream_garbage_502 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://$A/garbage)" = 502 ]
check upstream_close_502 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://$A/closenow)" = 502 ]
curl -s -m 5 -o "$TT/early" http://$A/early/5000; rc=$?
check upstream_early_close_after_bytes [ "$rc" = 18 ]
check early_bytes_passed [ "$(wc -c <"$TT/early")" = 5000 ]
# pipelined behind an upstream failure: the failing one gets 502, the connection ends
out=$("$TBIN/httpc" -p -t 3000 $A 'GET /' 'GET /closenow' 'GET /')
check pipelined_502 [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "200 502 " ]
# an upstream that resets (RST, as a server closing with unread requests does) is the same
# as one that closes early: 502 for the unanswered request, alone or pipelined
check upstream_reset_502 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://$A/resetnow)" = 502 ]
out=$("$TBIN/httpc" -p -t 3000 $A 'GET /' 'GET /resetnow' 'GET /')
check pipelined_reset_502 [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "200 502 " ]
# upstream down entirely: the TCP layer closes (connect failure)
# requests dribbled one byte per write (heads and chunked bodies split everywhere), pipelined
out=$(python3 - "$LP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
req = (b"GET /bytes/3 HTTP/1.1\r\nHost: a\r\n\r\n"
       b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
       b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"
       b"GET /status/204 HTTP/1.1\r\nHost: a\r\n\r\n")
for i in range(len(req)):
    s.sendall(req[i:i+1])
    time.sleep(0.001)
buf = b""
end = time.time() + 5
while buf.count(b"HTTP/1.1 ") < 4 and time.time() < end:
    d = s.recv(65536)
    if not d: break
    buf += d
import re
print(" ".join(m.decode() for m in re.findall(rb"HTTP/1\.1 (\d\d\d) ", buf)), b"bytes=5 " in buf)
PY
)
check byte_by_byte_pipelined [ "$out" = "200 200 200 204 True" ]
# random garbage on 100 connections: each gets a 400 or a close, the proxy lives on
python3 - "$LP" <<'PY'
import socket, sys, random
random.seed(7)
for i in range(100):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    blob = bytes(random.getrandbits(8) for _ in range(random.randint(1, 3000)))
    if i % 3 == 0:
        blob = b"GET /" + blob
    try:
        s.sendall(blob)
        s.shutdown(socket.SHUT_WR)
        while s.recv(65536):
            pass
    except OSError:
        pass
    s.close()
PY
# an upstream that dribbles its responses one byte per write (status line, headers, chunks)
DP=$(free_port); LD=$(free_port)
python3 - "$DP" >"$TT/drib.log" 2>&1 <<'PY' &
import socket, sys, time
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(5); ls.settimeout(20)
resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: b\r\n\r\n5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\nTrailer: t\r\n\r\n"
for _ in range(10):   # probes (wait_port) connect and leave: serve whoever sends requests
    c, _ = ls.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        for n in range(2):
            while buf.count(b"\r\n\r\n") <= n:
                d = c.recv(4096)
                if not d: raise EOFError
                buf += d
            for i in range(len(resp)):
                c.sendall(resp[i:i+1]); time.sleep(0.001)
    except (EOFError, OSError):
        pass
    c.close()
PY
_PIDS+=($!)
wait_port "$DP" 5
cat >>"$TT/p.ini" <<INI
[proxy drib]
listen = 127.0.0.1:$LD
upstream = 127.0.0.1:$DP
mode = http
INI
kill -HUP "$FL_PID"; wait_port "$LD" 5
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LD "GET /a" "GET /b")
check dribbled_chunked_responses [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\) bytes=\([0-9]*\).*/\1:\2/p' | tr '\n' ' ')" = "200:8 200:8 " ]
# upstream down (connect refused): 502 instead of a silent close; a client that leaves is let go
LX=$(free_port); DEAD=$(free_port)
cat >>"$TT/p.ini" <<INI
[proxy down]
listen = 127.0.0.1:$LX
upstream = 127.0.0.1:$DEAD
mode = http
INI
kill -HUP "$FL_PID"; wait_port "$LX" 5
check upstream_down_502 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' http://127.0.0.1:$LX/)" = 502 ]
for i in 1 2 3; do (exec 3<>"/dev/tcp/127.0.0.1/$LX") 2>/dev/null; done
check upstream_down_502_again [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -d x http://127.0.0.1:$LX/)" = 502 ]
check still_serving [ "$(curl -s -m 5 http://$A/)" = hello ]
check proxy_alive kill -0 "$FL_PID"
done_tests
