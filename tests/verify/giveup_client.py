#!/usr/bin/env python3
"""giveup_client.py -- a pooled keep-alive HTTP client with a timeout for tests/verify/giveup.sh:
urllib3's PoolManager (the pool under requests), one call after another.

  giveup_client.py --url URL --duration S [--timeout S] [--pause S] [--go FILE]

Calls GET URL for S seconds, one at a time on the pool's keep-alive connection, pausing --pause
(0.2 s) between calls. --timeout (default 1 s) is urllib3's total timeout per call: a call that
times out is given up on, and urllib3 closes that connection (the next call opens a new one).
No retries. With --go it prints "ready" once loaded and starts when FILE exists (at most 60 s).
Prints one line: calls= ok= timeouts= other=.
"""
import argparse
import os
import time

import urllib3

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--duration", type=float, required=True)
ap.add_argument("--timeout", type=float, default=1.0)
ap.add_argument("--pause", type=float, default=0.2)
ap.add_argument("--go", default="")
a = ap.parse_args()
pm = urllib3.PoolManager(maxsize=1, timeout=urllib3.Timeout(total=a.timeout), retries=False)
if a.go:
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(a.go) and time.monotonic() < deadline:
        time.sleep(0.02)
t0 = time.monotonic()
calls = ok = timeouts = other = 0
while time.monotonic() - t0 < a.duration:
    calls += 1
    try:
        r = pm.request("GET", a.url)
        ok += r.status == 200
    except (urllib3.exceptions.TimeoutError, urllib3.exceptions.ProtocolError):
        timeouts += 1
    except Exception:  # noqa: BLE001 -- counted, the loop goes on
        other += 1
    time.sleep(a.pause)
pm.clear()
print("calls=%d ok=%d timeouts=%d other=%d" % (calls, ok, timeouts, other), flush=True)
