#!/usr/bin/env python3
"""tests/fuzz/mkseeds_h2.py -- writes the seed corpus of fuzz_h2 (tests/fuzz/corpus/fuzz_h2).
Record format (tests/fuzz/fuzz_h2.c, as fuzz_http): byte 0 = proxy (0 http2, 1 grpc); then
[h][data]: bit 7 side (0 client, 1 upstream), bit 6 clear = data of h & 0x3f bytes, set = event
h & 7: 0 EOF, 1 fire timers, 2 faults end, 3 connect ok, 4 connect fails, 5 toggle reading,
6 reset, 7 loop. Frames and header blocks (HPACK literals, no Huffman) are written by hand."""
import os
import struct
import sys

CLI, UP = 0x00, 0x80
EOF_, TIMERS, FEND, CONN, CFAIL, TOGGLE, RST = range(7)
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def data(side, b):
    out = b""
    while b:
        piece, b = b[:63], b[63:]
        out += bytes([side | len(piece)]) + piece
    return out


def ev(side, e):
    return bytes([side | 0x40 | e])


def frame(t, fl, sid, p=b""):
    return struct.pack(">I", len(p))[1:] + bytes([t, fl]) + struct.pack(">I", sid) + p


def lit(n, v):
    return b"\x00" + bytes([len(n)]) + n + bytes([len(v)]) + v


def req(sid, path, end=True, grpc=False, extra=b""):
    block = lit(b":method", b"POST" if grpc else b"GET") + lit(b":scheme", b"http") + lit(b":path", path) + \
        lit(b":authority", b"svc.local") + extra
    if grpc:
        block += lit(b"content-type", b"application/grpc") + lit(b"te", b"trailers") + lit(b"grpc-timeout", b"500m")
    return frame(1, 0x4 | (1 if end else 0), sid, block)


def resp(sid, status=b"200", end=False, grpc=False):
    block = lit(b":status", status) + (lit(b"content-type", b"application/grpc") if grpc else b"")
    return frame(1, 0x4 | (1 if end else 0), sid, block)


def body(sid, b, end=True):
    return frame(0, 1 if end else 0, sid, b)


def msg(b):
    return b"\x00" + struct.pack(">I", len(b)) + b


def trailers(sid, status=b"0"):
    return frame(1, 0x5, sid, lit(b"grpc-status", status))


SET = frame(4, 0, 0)
ACK = frame(4, 1, 0)
CPRE = PREFACE + SET


def conv(proxy, *parts):
    return bytes([proxy]) + b"".join(parts)


seeds = {
    "get": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/a")), data(UP, SET + ACK + resp(1) + body(1, b"hello")),
                ev(CLI, EOF_)),
    "streams": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/a") + req(3, b"/e1") + req(5, b"/lq")),
                    ev(CLI, TIMERS), data(UP, SET + resp(1) + body(1, b"x") + resp(3, b"204", True))),
    "post": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/p", end=False) + body(1, b"payload" * 20)),
                 data(UP, SET + resp(1) + body(1, b"ok", False) + frame(1, 0x5, 1, lit(b"x-t", b"1")))),
    "hang": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/hn") + req(3, b"/hy")), data(UP, SET + resp(3) + body(3, b"z")),
                 ev(CLI, FEND), data(UP, resp(1) + body(1, b"late"))),
    "truncate_slow": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/t") + req(3, b"/s")),
                          data(UP, SET + resp(1) + body(1, b"0123456789" * 5) + resp(3) + body(3, b"s" * 3000)),
                          ev(CLI, TIMERS), ev(CLI, TIMERS)),
    "rst_goaway": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/q") + req(3, b"/r") + req(5, b"/g") + req(7, b"/i")),
                       data(UP, SET + resp(3) + resp(5, end=True))),
    "cancel": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/slow") + frame(3, 0, 1, struct.pack(">I", 8))),
                   data(UP, SET + resp(1))),
    "ping_settings": conv(0, ev(UP, CONN), data(CLI, CPRE + frame(6, 0, 0, b"12345678") + frame(8, 0, 0, struct.pack(">I", 1000)))),
    "upstream_fails": conv(0, data(CLI, CPRE + req(1, b"/a")), ev(UP, CFAIL), data(CLI, req(3, b"/b"))),
    "upstream_goaway": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/a")), data(UP, SET + frame(7, 0, 0, struct.pack(">II", 0, 0)))),
    "upstream_reset": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/a")), data(UP, SET + frame(3, 0, 1, struct.pack(">I", 7)))),
    "stall": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/st")), data(UP, SET + resp(1) + body(1, b"w" * 4000, False)),
                  ev(CLI, TOGGLE), data(UP, body(1, b"w" * 4000))),
    "grpc_unary": conv(1, ev(UP, CONN), data(CLI, CPRE + req(1, b"/test.Echo/Unary", False, True) + body(1, msg(b"ping"))),
                       data(UP, SET + resp(1, grpc=True) + body(1, msg(b"ping"), False) + trailers(1))),
    "grpc_error_cut": conv(1, ev(UP, CONN), data(CLI, CPRE + req(1, b"/E", False, True) + body(1, msg(b"a"))
                                                  + req(3, b"/C", False, True) + body(3, msg(b"b"))),
                           data(UP, SET + resp(3, grpc=True) + body(3, msg(b"m1") + msg(b"m2" * 10), False) + trailers(3))),
    "grpc_stream": conv(1, ev(UP, CONN), data(CLI, CPRE + req(1, b"/L", False, True) + body(1, msg(b"3")) + req(3, b"/hy", False, True)
                                               + body(3, msg(b"3"))),
                        data(UP, SET + resp(1, grpc=True) + body(1, msg(b"a") + msg(b"b") + msg(b"c"), False) + trailers(1)
                             + resp(3, grpc=True) + body(3, msg(b"x") + msg(b"y"), False)),
                        ev(CLI, TIMERS), ev(CLI, FEND), ev(CLI, TIMERS)),
    "garbage": conv(0, data(CLI, b"GET / HTTP/1.1\r\n\r\n")),
    # the upstream leaves (or breaks the protocol) while a request body is still queued towards
    # it: the stream is answered 502 and freed, and the upstream's session is not driven again
    "upstream_gone_body": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/p", end=False) + body(1, b"payload" * 20, False)),
                               ev(UP, EOF_), data(CLI, body(1, b"w" * 40)), ev(CLI, TIMERS), data(CLI, body(1, b"v" * 40))),
    "upstream_garbage_body": conv(0, ev(UP, CONN), data(CLI, CPRE + req(1, b"/p", end=False) + body(1, b"payload" * 20, False)),
                                  data(UP, b"PRI * HTTP/4.0\r\n\r\nSM\r\n\r\n"), data(CLI, body(1, b"w" * 40)),
                                  data(UP, SET + resp(1, b"201") + body(1, b"late"))),
}

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_h2")
os.makedirs(out, exist_ok=True)
for name, b in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(b)
print("%d seeds in %s" % (len(seeds), out))
