#!/usr/bin/env python3
"""tests/fuzz/mkseeds_http.py -- writes the seed corpus of fuzz_http (tests/fuzz/corpus/fuzz_http).
Record format (see tests/fuzz/fuzz_http.c): byte 0 = proxy (0 plain, 1 Via + slicer); then
[h][data]: bit 7 side (0 client, 1 upstream), bit 6 clear = data of h & 0x3f bytes, set = event
h & 7: 0 EOF, 1 fire timers, 2 faults end, 3 connect ok, 4 connect fails, 5 toggle reading,
6 reset, 7 loop."""
import os, sys

CLI, UP = 0x00, 0x80
EOF_, TIMERS, FEND, CONN, CFAIL, TOGGLE, RST = range(7)

def data(side, b):
    out = b""
    while b:
        piece, b = b[:63], b[63:]
        out += bytes([side | len(piece)]) + piece
    return out

def ev(side, e):
    return bytes([side | 0x40 | e])

def conv(proxy, *parts):
    return bytes([proxy]) + b"".join(parts)

GET = b"GET %s HTTP/1.1\r\nHost: api.local\r\nX-Request-Id: r1\r\n\r\n"
R200 = b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello world\n"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
POST = b"POST /v1/charges HTTP/1.1\r\nHost: pay.bad:8080\r\nContent-Length: 11\r\n\r\nhello=world"
seeds = {
    "plain": conv(0, ev(UP, CONN), data(CLI, GET % b"/a"), data(UP, R200), ev(CLI, EOF_), ev(UP, EOF_)),
    "via": conv(1, data(CLI, GET % b"/a"), data(UP, R200), data(CLI, GET % b"/b"), data(UP, CHUNKED)),
    "pipeline": conv(0, data(CLI, (GET % b"/a") + (GET % b"/e1") + (GET % b"/b")), data(UP, R200 + CHUNKED)),
    "error_post": conv(0, data(CLI, POST), data(CLI, GET % b"/x")),
    "error_header": conv(1, data(CLI, b"HEAD / HTTP/1.1\r\nX-Err: yes\r\n\r\n"), ev(CLI, EOF_)),
    "latency_req": conv(0, data(CLI, GET % b"/lq"), ev(CLI, TIMERS), data(UP, R200)),
    "latency_resp": conv(1, data(CLI, GET % b"/lr"), data(UP, R200), ev(CLI, TIMERS), ev(UP, EOF_)),
    "hang_release": conv(0, data(CLI, GET % b"/hn" + GET % b"/a"), ev(CLI, FEND), data(UP, R200 + R200)),
    "hang_reset": conv(0, data(CLI, GET % b"/hy"), data(UP, R200), ev(CLI, FEND)),
    "hang_keep": conv(1, data(CLI, GET % b"/hk"), ev(CLI, FEND), ev(CLI, EOF_)),
    "truncate": conv(0, data(CLI, GET % b"/t"), data(UP, CHUNKED)),
    "slow_body": conv(1, data(CLI, GET % b"/s"), data(UP, R200), ev(CLI, TIMERS), ev(CLI, TIMERS)),
    "reset": conv(0, data(CLI, GET % b"/x")),
    "connect_fails": conv(0, ev(UP, CFAIL), data(CLI, GET % b"/a")),
    "bad_request": conv(0, data(CLI, b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n")),
    "bad_response": conv(0, data(CLI, GET % b"/a"), data(UP, b"HTTP/1.1 abc\r\n\r\n")),
    "unsolicited": conv(1, ev(UP, CONN), data(UP, R200)),
    "upgrade": conv(0, data(CLI, b"GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"),
                    data(UP, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nxyz"),
                    data(CLI, b"raw bytes both ways")),
    "connect": conv(1, data(CLI, b"CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n"),
                    data(UP, b"HTTP/1.1 200 Connection established\r\n\r\n"), data(CLI, b"tunnel")),
    "continue": conv(0, data(CLI, b"PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"),
                     data(UP, b"HTTP/1.1 100 Continue\r\n\r\n"), data(CLI, b"abcd"), data(UP, b"HTTP/1.1 204 No Content\r\n\r\n")),
    "chunked_req": conv(0, data(CLI, b"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
                        data(UP, R200)),
    "http10_close": conv(1, data(CLI, b"GET /e HTTP/1.0\r\n\r\n"), ev(CLI, EOF_)),
    "eof_body": conv(0, data(CLI, GET % b"/a"), data(UP, b"HTTP/1.1 200 OK\r\n\r\nbody until close"), ev(UP, EOF_)),
    "backpressure": conv(0, ev(CLI, TOGGLE), data(CLI, GET % b"/a"), data(UP, b"HTTP/1.1 200 OK\r\nContent-Length: 9000\r\n\r\n" + b"z" * 9000), ev(CLI, TOGGLE)),
    "client_reset": conv(1, data(CLI, GET % b"/hk"), ev(CLI, RST)),
}
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_http")
os.makedirs(d, exist_ok=True)
for k, v in seeds.items():
    open(os.path.join(d, k), "wb").write(v)
print(len(seeds), "seeds in", d)
