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
# upstream down entirely: the TCP layer closes (connect failure)
check still_serving [ "$(curl -s -m 5 http://$A/)" = hello ]
check proxy_alive kill -0 "$FL_PID"
done_tests
