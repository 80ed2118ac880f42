#!/usr/bin/env bash
# http mode without faults: framing in both directions, keep-alive, pipelining, big bodies
# unchanged (Content-Length, chunked, until-EOF, uploads), HEAD/204/304, Via, WebSocket, Expect.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port); LN=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP" yes
cat >>"$TT/p.ini" <<INI
[proxy novia]
listen = 127.0.0.1:$LN
upstream = 127.0.0.1:$UP
mode = http
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
P=http://127.0.0.1:$LP
D=http://127.0.0.1:$UP

check get_hello [ "$(curl -s -m 5 $P/)" = hello ]
# keep-alive: 5 requests, one connection, the upstream counts them on that one connection
out=$(curl -s -m 5 -D - -o /dev/null $P/ $P/ $P/ $P/ $P/ | grep -i '^x-req' | tr -d '\r' | tr '\n' ' ')
check keepalive_one_upstream_conn [ "$out" = "X-Req: 1 X-Req: 2 X-Req: 3 X-Req: 4 X-Req: 5 " ]
# pipelining: 20 requests at once, answered in order (status encodes the index)
reqs=(); for i in $(seq 0 19); do reqs+=("GET /status/$((200 + i))"); done
out=$("$TBIN/httpc" -p -t 5000 127.0.0.1:$LP "${reqs[@]}")
st=$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')
check pipelined_in_order [ "$st" = "$(seq -s ' ' 200 219) " ]
check pipelined_result_ok [ "$(echo "$out" | tail -n1 | cut -d' ' -f1)" = result=ok ]
# deep pipelining: 600 requests written at once (more than the proxy's 256-request FIFO bound)
reqs=(); for i in $(seq 1 600); do reqs+=("GET /"); done
out=$("$TBIN/httpc" -p -t 10000 127.0.0.1:$LP "${reqs[@]}")
check pipelined_600 [ "$(echo "$out" | tail -n1 | cut -d' ' -f1,2)" = "result=ok got=600" ]
# pipelined with bodies (HEAD, 204, 304 have none) and sleeps
out=$("$TBIN/httpc" -p -t 5000 127.0.0.1:$LP "GET /sleep/200" "HEAD /bytes/5000" "GET /status/204" "GET /status/304" "GET /bytes/70000" "POST /x 3000" "GET /chunked/9000" "GET /")
st=$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\) bytes=\([0-9]*\).*/\1:\2/p' | tr '\n' ' ')
check pipelined_mixed [ "$st" = "200:6 200:0 204:0 304:0 200:70000 200:32 200:9000 200:6 " ]
# HEAD on keep-alive, then a normal GET on the same connection
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "HEAD /bytes/100000" "GET /bytes/10")
check head_then_get [ "$(echo "$out" | sed -n 's/^resp .*bytes=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "0 10 " ]

# big bodies, byte for byte
for kind in bytes chunked; do
    a=$(curl -s -m 60 $P/$kind/104857600 | md5sum | cut -d' ' -f1)
    b=$(curl -s -m 60 $D/$kind/104857600 | md5sum | cut -d' ' -f1)
    check "${kind}_100MiB_unchanged" [ "$a" = "$b" ]
done
a=$(curl -s -m 20 $P/eof/3000000 | md5sum | cut -d' ' -f1)
b=$(curl -s -m 20 $D/eof/3000000 | md5sum | cut -d' ' -f1)
check eof_delimited_body_unchanged [ "$a" = "$b" ]
head -c 104857600 /dev/urandom >"$TT/up.bin"
a=$(curl -s -m 60 -H 'Expect:' --data-binary @"$TT/up.bin" $P/up)
b=$(curl -s -m 60 -H 'Expect:' --data-binary @"$TT/up.bin" $D/up)
check upload_100MiB_content_length eval '[ -n "$a" ] && [ "$a" = "$b" ]'
a=$(curl -s -m 60 -H 'Expect:' -H 'Transfer-Encoding: chunked' --data-binary @"$TT/up.bin" $P/up)
check upload_100MiB_chunked [ "$a" = "$b" ]
rm -f "$TT/up.bin"
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "POSTC /x 50000" "POST /x 50000")
check chunked_and_cl_upload_same [ "$(echo "$out" | sed -n 's/^resp .*fnv=\([0-9a-f]*\).*/\1/p' | sort -u | wc -l)" = 1 ]

# Via: added both ways with add_via = yes, never without
check via_on_request [ "$(curl -s -m 5 $P/hdr/Via)" = "1.1 faultline" ]
check via_on_response curl -s -m 5 -D - -o /dev/null $P/ -o /dev/null | grep -qi '^via: 1.1 faultline'
check no_via_by_default [ "$(curl -s -m 5 http://127.0.0.1:$LN/hdr/Via)" = "-" ]
check no_via_response_by_default bash -c "! curl -s -m 5 -D - -o /dev/null http://127.0.0.1:$LN/ | grep -qi '^via:'"
check headers_unchanged [ "$(curl -s -m 5 -H 'X-Odd:   spaced  value' http://127.0.0.1:$LN/hdr/X-Odd)" = "spaced  value" ]

# Expect: 100-continue: the upstream's 100 comes through (curl does not wait its 1 s)
head -c 2000000 /dev/zero >"$TT/z.bin"
t=$(ms_of curl -s -m 10 -H 'Expect: 100-continue' --data-binary @"$TT/z.bin" $P/up)
out=$(curl -s -m 10 -H 'Expect: 100-continue' --data-binary @"$TT/z.bin" $P/up)
check expect_100_body_sum [ "${out%% *}" = "bytes=2000000" ]
check expect_100_no_stall within "$t" 0 900

# tunnel PORT KIND: sends a WebSocket upgrade (KIND ws) or a CONNECT (KIND connect), then raw
# bytes that look like HTTP but must not be read as HTTP; prints the answer's status line (ws)
# or status code (connect) and whether the bytes came back unchanged
tunnel() {
    python3 - "$1" "$2" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
if sys.argv[2] == "ws":
    s.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    msg = b"\x81\x05hello GET / HTTP/1.1\r\n\r\n not http at all \x00\xff" * 100
else:
    s.sendall(b"CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n")
    msg = b"\x00\x01binary HTTP/1.1 200 OK\r\n\r\n" * 500
buf = b""
while b"\r\n\r\n" not in buf:
    d = s.recv(4096)
    if not d: break
    buf += d
head, _, rest = buf.partition(b"\r\n\r\n")
s.sendall(msg)
got = rest
while len(got) < len(msg):
    d = s.recv(65536)
    if not d: break
    got += d
line = head.split(b"\r\n")[0]
print((line if sys.argv[2] == "ws" else line.split(b" ")[1]).decode(), "echo=" + ("yes" if got == msg else "no"))
PY
}
# WebSocket: upgrade passes through, then raw bytes both ways
ws=$(tunnel "$LP" ws)
check websocket_101 [ "${ws%% echo*}" = "HTTP/1.1 101 Switching Protocols" ]
check websocket_tunnel_echo [ "${ws##* }" = "echo=yes" ]
# CONNECT: a 2xx turns the connection into a tunnel
ct=$(tunnel "$LP" connect)
check connect_tunnel [ "$ct" = "200 echo=yes" ]
# an upgrade the upstream refuses: the connection stays HTTP and serves the next request
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "GET /plain|Upgrade: websocket|Connection: Upgrade" "GET /bytes/7")
check upgrade_refused_stays_http [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\) bytes=\([0-9]*\).*/\1:\2/p' | tr '\n' ' ')" = "200:6 200:7 " ]
# HTTP/1.0 without keep-alive
check http10 [ "$(curl -s -m 5 -0 $P/)" = hello ]
done_tests
