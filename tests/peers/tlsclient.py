#!/usr/bin/env python3
"""tlsclient.py PORT HOST CAFILE PATH [--noverify] [--timeout S] [--count N] -- HTTPS GETs through
faultline for tests/protocols/tls_faults.sh and tests/verify/tls_verify.sh: Python's ssl (the
default context: the chain and the host name verified, against CAFILE) or, with --noverify, a
context that verifies nothing (CERT_NONE: the bug tls_verify catches). Connects to 127.0.0.1:PORT
with SNI HOST. --timeout S bounds the connect, the handshake and each read (default: none, the
client waits for ever). Prints one line per request, then exits 0:
    ok status=N bytes=N ms=T                 a whole response
    error CLASS ms=T MESSAGE                 what Python raised (CLASS: its exception's name)
"""
import http.client
import socket
import ssl
import sys
import time


def main():
    a = sys.argv[1:]
    port, host, cafile, path = int(a[0]), a[1], a[2], a[3]
    noverify = "--noverify" in a
    timeout = float(a[a.index("--timeout") + 1]) if "--timeout" in a else None
    count = int(a[a.index("--count") + 1]) if "--count" in a else 1
    if noverify:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx = ssl.create_default_context(cafile=cafile)
    for _ in range(count):
        t0 = time.monotonic()
        try:
            raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            c = http.client.HTTPConnection(host, port, timeout=timeout)
            c.sock = ctx.wrap_socket(raw, server_hostname=host)
            c.request("GET", path, headers={"Host": host, "Connection": "close"})
            r = c.getresponse()
            body = r.read()
            print("ok status=%d bytes=%d ms=%d" % (r.status, len(body), (time.monotonic() - t0) * 1000), flush=True)
            c.close()
        except Exception as e:  # noqa: BLE001 -- the class is the result
            msg = str(e).replace("\n", " ")
            print("error %s ms=%d %s" % (type(e).__name__, (time.monotonic() - t0) * 1000, msg), flush=True)


main()
