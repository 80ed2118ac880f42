#!/usr/bin/env python3
"""retry_client.py -- a real retrying HTTP client for tests/verify/retries.sh: urllib3's own
Retry (the library under requests), driven open loop.

  retry_client.py --url URL --rate R --duration S [--retries N] [--backoff F]
                  [--body unique|same|none] [--id-header NAME] [--timeout S] [--go FILE]
                  [--pauses "P1,P2;P1,P2;..."] [--delay S]

R calls per second for S seconds, each in its own thread (at most 64 at once). A call is a
POST with a JSON body (unique per call, the same for every call, or a GET without a body)
and, with --id-header, a fresh UUID in that header, kept by every retry of the call (urllib3
re-sends the same headers). urllib3 Retry(total=N, backoff_factor=F) retries 5xx answers:
no pause before the first retry, then F x 2^k (F = 0: never a pause). --pauses scripts the
pauses instead (the same draws on every run, so a jittered client's verdict is deterministic):
";"-separated lists of pauses in seconds, call i taking list i mod their number, retrying a 5xx
or an exception once per pause in its list after sleeping it (urllib3 then makes single
attempts, retries=False). With --go, it prints "ready" once loaded and starts calling when FILE
exists (python starts slowly on a loaded machine; the test starts the proxy and its fault clock
only then); --delay waits S seconds more before the first call. Prints one line:
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
ap.add_argument("--pauses", default="", help="scripted pauses: '0.15,0.35;0.28,0.22' (seconds), call i takes list i mod n")
ap.add_argument("--delay", type=float, default=0, help="seconds to wait before the first call")
a = ap.parse_args()

retry = Retry(total=a.retries, connect=a.retries, read=a.retries, status=a.retries,
              backoff_factor=a.backoff, status_forcelist=[500, 502, 503, 504],
              allowed_methods=None, raise_on_status=False, respect_retry_after_header=False)
pool = urllib3.PoolManager(maxsize=16, retries=retry, timeout=Timeout(total=a.timeout))
lock = threading.Lock()
stats = {"calls": 0, "ok": 0, "failed": 0}
scripts = [[float(x) for x in p.split(",") if x.strip()] for p in a.pauses.split(";")] if a.pauses else []


def attempt(method, body, headers, pauses):
    """One call: urllib3's own Retry, or (--pauses) single attempts with the scripted sleeps."""
    if not scripts:
        return pool.request(method, a.url, body=body, headers=headers).status < 500
    for k in range(len(pauses) + 1):
        if k:
            time.sleep(pauses[k - 1])
        try:
            if pool.request(method, a.url, body=body, headers=headers, retries=False).status < 500:
                return True
        except Exception:
            pass
    return False


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
        ok = attempt(method, body, headers, scripts[i % len(scripts)] if scripts else [])
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
time.sleep(a.delay)
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
