#!/usr/bin/env python3
"""ka_client.py -- a keep-alive HTTP client (Python's http.client, one persistent connection)
for tests/verify/keepalive.sh, with a script of when to call and when to hang up.

  ka_client.py --addr HOST:PORT --at 0.5,0.8,3.0 --close-at 9 [--timeout S] [--go FILE]

Sends GET / at each time of --at (seconds after start) on the same connection, then keeps the
connection open, idle, until --close-at and closes it. --timeout: the socket timeout of each
call (none by default: waits forever); a call that times out closes the connection (as
requests/urllib3 do) and the next call opens a new one. With --go, prints "ready" and starts the
clock when FILE exists (at most 60 s). Prints one line: calls= ok= timeouts= ms=LIST.
"""
import argparse
import http.client
import os
import socket
import time

ap = argparse.ArgumentParser()
ap.add_argument("--addr", required=True)
ap.add_argument("--at", required=True)
ap.add_argument("--close-at", type=float, required=True)
ap.add_argument("--timeout", type=float, default=None)
ap.add_argument("--go", default="")
a = ap.parse_args()
host, port = a.addr.rsplit(":", 1)
if a.go:
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(a.go) and time.monotonic() < deadline:
        time.sleep(0.02)
t0 = time.monotonic()
conn = None
calls = ok = timeouts = 0
ms = []
for at in [float(x) for x in a.at.split(",")]:
    d = t0 + at - time.monotonic()
    if d > 0:
        time.sleep(d)
    if conn is None:
        conn = http.client.HTTPConnection(host, int(port), timeout=a.timeout)
    calls += 1
    s = time.monotonic()
    try:
        conn.request("GET", "/")
        r = conn.getresponse()
        r.read()
        ok += 1
    except (socket.timeout, TimeoutError):
        timeouts += 1
        conn.close()
        conn = None
    ms.append(int((time.monotonic() - s) * 1000))
d = t0 + a.close_at - time.monotonic()
if d > 0:
    time.sleep(d)
if conn is not None:
    conn.close()
print("calls=%d ok=%d timeouts=%d ms=%s" % (calls, ok, timeouts, ",".join(map(str, ms))))
