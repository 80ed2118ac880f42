#!/usr/bin/env python3
"""tlsraw.py MODE PORT [ARG] -- hostile bytes at a TLS listener on 127.0.0.1:PORT, for
tests/protocols/tls_*.sh. Prints one line: result=closed|open|reset bytes=N ms=T (what came back
before the server closed, and when), exit 0.
  garbage     "GET / HTTP/1.1" instead of a ClientHello
  truncated   the first 40 bytes of a ClientHello, then the client's FIN
  sni LEN     a ClientHello whose SNI host name is LEN bytes long
  silent      connect and send nothing (a handshake that never starts)
"""
import os
import socket
import struct
import sys
import time


def hello(sni_len):
    name = b"a" * sni_len
    sni = struct.pack(">HBH", len(name) + 3, 0, len(name)) + name
    exts = struct.pack(">HH", 0, len(sni)) + sni
    exts += struct.pack(">HHHH", 10, 4, 2, 23)          # supported_groups: secp256r1
    exts += struct.pack(">HHHH", 13, 4, 2, 0x0403)      # signature_algorithms: ecdsa_secp256r1_sha256
    exts += struct.pack(">HHBB", 11, 2, 1, 0)           # ec_point_formats: uncompressed
    body = b"\x03\x03" + os.urandom(32) + b"\x00" + struct.pack(">H", 4) + b"\xc0\x2b\xc0\x2c" + b"\x01\x00"
    body += struct.pack(">H", len(exts)) + exts
    hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs


def main():
    mode, port = sys.argv[1], int(sys.argv[2])
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    t0 = time.time()
    if mode == "garbage":
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    elif mode == "truncated":
        s.sendall(hello(10)[:40])
        s.shutdown(socket.SHUT_WR)
    elif mode == "sni":
        s.sendall(hello(int(sys.argv[3])))
    if mode == "sni":
        s.settimeout(3)   # a name OpenSSL takes gets a ServerHello, then waits for the rest
    got, result = 0, "closed"
    try:
        while True:
            b = s.recv(65536)
            if not b:
                break
            got += len(b)
    except socket.timeout:
        result = "open"
    except ConnectionResetError:
        result = "reset"
    print("result=%s bytes=%d ms=%d" % (result, got, (time.time() - t0) * 1000))


main()
