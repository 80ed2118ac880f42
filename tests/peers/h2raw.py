#!/usr/bin/env python3
"""tests/peers/h2raw.py -- raw HTTP/2 frames over cleartext (prior knowledge), for what no real
client sends on purpose: PINGs to count their ACKs, and hostile input.

  h2raw.py ping PORT [N] [WAIT_S]       N PINGs (default 1): "acks=K"
  h2raw.py rapid-reset PORT N           N streams opened and reset at once (CVE-2023-44487's shape)
  h2raw.py continuation PORT N          one HEADERS and N CONTINUATION frames (a CONTINUATION flood)
  h2raw.py hpack-bomb PORT K            one request whose header block makes K copies of a 4000-byte
                                        header through HPACK's dynamic table (an HPACK bomb)
  h2raw.py streams PORT N               N streams opened and left open (past the stream limit)
  h2raw.py get PORT PATH                one GET: "status-data=..." (its DATA, text)
  h2raw.py cancel PORT PATH MS          one GET, cancelled (RST_STREAM CANCEL) after MS ms
  h2raw.py settings PORT WAIT_S         no request; reads for WAIT_S s: "max_streams=A,B,..." (the
                                        SETTINGS_MAX_CONCURRENT_STREAMS of each SETTINGS frame, in order)
Each prints one line of facts: goaway=CODE (or -), closed=0|1, refused=K, resets=K, data=TEXT.
Header blocks are HPACK literals without indexing (no Huffman), written here by hand.
"""
import socket
import struct
import sys
import time

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, RST, SETTINGS, PING, GOAWAY, CONT = 0, 1, 3, 4, 6, 7, 9


def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + struct.pack(">I", sid) + payload


def hint(v, prefix, first=0):
    """an HPACK integer with a prefix of `prefix` bits"""
    m = (1 << prefix) - 1
    if v < m:
        return bytes([first | v])
    out = [first | m]
    v -= m
    while v >= 128:
        out.append((v & 127) | 128)
        v >>= 7
    out.append(v)
    return bytes(out)


def lit(name, value, index=False):
    """a literal header field, new name: without indexing (0x00) or with incremental indexing (0x40)"""
    return bytes([0x40 if index else 0]) + hint(len(name), 7) + name + hint(len(value), 7) + value


def request_block(path=b"/", extra=b""):
    return (lit(b":method", b"GET") + lit(b":scheme", b"http") + lit(b":path", path)
            + lit(b":authority", b"localhost") + extra)


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.closed = False
        self.s.sendall(PREFACE + frame(SETTINGS, 0, 0))

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError:
            self.closed = True

    def frames(self, until):
        """frames read until `until` (seconds from now) or the close"""
        out = []
        end = time.time() + until
        while not self.closed and time.time() < end:
            self.s.settimeout(max(0.01, end - time.time()))
            try:
                b = self.s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                self.closed = True
                break
            if not b:
                self.closed = True
                break
            self.buf += b
            while len(self.buf) >= 9:
                n = struct.unpack(">I", b"\0" + self.buf[:3])[0]
                if len(self.buf) < 9 + n:
                    break
                t, fl, sid = self.buf[3], self.buf[4], struct.unpack(">I", self.buf[5:9])[0] & 0x7FFFFFFF
                out.append((t, fl, sid, self.buf[9:9 + n]))
                self.buf = self.buf[9 + n:]
                if t == SETTINGS and not fl & 1:
                    self.send(frame(SETTINGS, 1, 0))
        return out


def facts(fr, c):
    goaway = "-"
    refused = resets = 0
    data = b""
    for t, fl, sid, p in fr:
        if t == GOAWAY:
            goaway = str(struct.unpack(">I", p[4:8])[0])
        elif t == RST:
            code = struct.unpack(">I", p[:4])[0]
            resets += 1
            refused += code == 7
        elif t == DATA:
            data += p
    return "goaway=%s closed=%d refused=%d resets=%d data=%s" % (goaway, c.closed, refused, resets,
                                                                  data[:60].decode("latin-1").strip().replace(" ", "_"))


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    arg = sys.argv[3] if len(sys.argv) > 3 else None
    c = Conn(port)
    if cmd == "ping":
        n = int(arg or 1)
        wait = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
        for i in range(n):
            c.send(frame(PING, 0, 0, struct.pack(">Q", i + 1)))
        fr = c.frames(wait)
        print("acks=%d" % sum(1 for t, fl, _, _ in fr if t == PING and fl & 1))
        return
    if cmd == "rapid-reset":
        n, out = int(arg), b""
        for i in range(n):
            sid = 2 * i + 1
            out += frame(HEADERS, 0x4, sid, request_block(b"/slow?ms=2000")) + frame(RST, 0, sid, struct.pack(">I", 8))
            if len(out) > 60000:
                c.send(out)
                out = b""
        c.send(out)
        fr = c.frames(3)
    elif cmd == "continuation":
        n = int(arg)
        c.send(frame(HEADERS, 0, 1, request_block()))
        for i in range(n):
            c.send(frame(CONT, 0, 1, lit(b"x-c%d" % i, b"v" * 100)))
            if c.closed:
                break
        fr = c.frames(2)
    elif cmd == "hpack-bomb":
        k = int(arg)
        block = request_block(b"/bomb", lit(b"x-big", b"b" * 4000, index=True) + bytes([0x80 | 62]) * k)
        c.send(frame(HEADERS, 0x5, 1, block))
        fr = c.frames(2)
    elif cmd == "streams":
        n = int(arg)
        for i in range(n):
            c.send(frame(HEADERS, 0x4, 2 * i + 1, request_block(b"/slow?ms=3000")))
        fr = c.frames(1.5)
    elif cmd == "cancel":
        c.send(frame(HEADERS, 0x5, 1, request_block(arg.encode())))
        fr = c.frames(int(sys.argv[4]) / 1000.0)
        c.send(frame(RST, 0, 1, struct.pack(">I", 8)))
        fr += c.frames(0.3)
    elif cmd == "settings":
        seen = []
        for t, fl, _, p in c.frames(float(arg)):
            if t == SETTINGS and not fl & 1:
                for i in range(0, len(p) - 5, 6):
                    ident, val = struct.unpack(">HI", p[i:i + 6])
                    if ident == 3:
                        seen.append(str(val))
        print("max_streams=%s closed=%d" % (",".join(seen) or "-", c.closed))
        return
    elif cmd == "get":
        c.send(frame(HEADERS, 0x5, 1, request_block(arg.encode())))
        fr = c.frames(2)
    else:
        print("unknown command " + cmd)
        sys.exit(2)
    print(facts(fr, c))


if __name__ == "__main__":
    main()
