#!/usr/bin/env python3
"""retry_client.py -- a real retrying HTTP client for tests/verify/retries.sh: urllib3's own
Retry (the library under requests), driven open loop.

  retry_client.py --url URL --rate R --duration S [--retries N] [--backoff F]
                  [--body unique|same|none] [--id-header NAME] [--timeout S] [--go FILE]

R calls per second for S seconds, each in its own thread (at most 64 at once). A call is a
POST with a JSON body (unique per call, the same for every call, or a GET without a body)
and, with --id-header, a fresh UUID in that header, kept by every retry of the call (urllib3
re-sends the same headers). urllib3 Retry(total=N, backoff_factor=F) retries 5xx answers:
no pause before the first retry, then F x 2^k (F = 0: never a pause). With --go, it prints
"ready" once loaded and starts calling when FILE exists (python starts slowly on a loaded
machine; the test starts the proxy and its fault clock only then). Prints one line:
calls= ok= failed= (failed = still 5xx after the retries, or an exception).
"""
import argparse
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import urllib3
from urllib3.util import Retry, Timeout

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--rate", type=float, default=10)
ap.add_argument("--duration", type=float, default=8)
ap.add_argument("--retries", type=int, default=0)
ap.add_argument("--backoff", type=float, default=0)
ap.add_argument("--body", choices=["unique", "same", "none"], default="unique")
ap.add_argument("--id-header", default="")
ap.add_argument("--timeout", type=float, default=5)
ap.add_argument("--go", default="", help="print 'ready', then wait (at most 60 s) for this file to exist")
a = ap.parse_args()

retry = Retry(total=a.retries, connect=a.retries, read=a.retries, status=a.retries,
              backoff_factor=a.backoff, status_forcelist=[500, 502, 503, 504],
              allowed_methods=None, raise_on_status=False, respect_retry_after_header=False)
pool = urllib3.PoolManager(maxsize=16, retries=retry, timeout=Timeout(total=a.timeout))
lock = threading.Lock()
stats = {"calls": 0, "ok": 0, "failed": 0}


def call(i):
    headers = {}
    if a.id_header:
        headers[a.id_header] = str(uuid.uuid4())
    body = None
    method = "GET"
    if a.body != "none":
        method = "POST"
        headers["Content-Type"] = "application/json"
        body = json.dumps({"order": i if a.body == "unique" else 0, "item": "x" * 20}).encode()
    ok = False
    try:
        r = pool.request(method, a.url, body=body, headers=headers)
        ok = r.status < 500
    except Exception:
        ok = False
    with lock:
        stats["calls"] += 1
        stats["ok" if ok else "failed"] += 1


if a.go:
    import os
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(a.go) and time.monotonic() < deadline:
        time.sleep(0.02)
t0 = time.monotonic()
n = int(a.rate * a.duration)
with ThreadPoolExecutor(max_workers=64) as ex:
    for i in range(n):
        due = t0 + i / a.rate
        d = due - time.monotonic()
        if d > 0:
            time.sleep(d)
        ex.submit(call, i)
print(" ".join("%s=%d" % kv for kv in stats.items()))
sys.exit(0)
