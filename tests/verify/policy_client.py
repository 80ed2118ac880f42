#!/usr/bin/env python3
"""policy_client.py -- real HTTP clients with the retry and breaker policies of well-known
libraries, for tests/verify/retry_spacing.sh, retry_budget.sh and half_open.sh. HTTP is
urllib3's (the library under requests); the policies are urllib3's own Retry, or Retry
subclassed the way its users add what urllib3 lacks (get_backoff_time, increment).

  policy_client.py --url URL --rate R --duration S [--go FILE] [--timeout S]
                   [--retry SPEC] [--budget P:WINDOW] [--breaker MODE:FAILS:OPEN]

--retry (every failed attempt: 5xx, connection errors):
  stock:N:F        urllib3 Retry(total=N, backoff_factor=F) as shipped: no pause before the
                   first retry, then F x 2^k, no jitter
  jitter:N:B:M:R   resilience4j IntervalFunction.ofExponentialRandomBackoff(B, M, R): the pause
                   before retry k is B x M^(k-1), times a uniform factor in [1-R, 1+R]
  fixed:N:D        a constant pause D (Spring Retry FixedBackOffPolicy, Polly's constant
                   WaitAndRetry), no jitter
--budget P:W       a retry budget in Finagle's shape (RetryBudget with minRetriesPerSec 0): a
                   retry is allowed while the retries of the last W seconds stay <= P x the
                   first attempts of the last W seconds; else the call fails without retrying
--breaker (client-side, shared by all calls; OPEN in seconds):
  gobreaker:F:O    sony/gobreaker: open after F consecutive failures; after O, half-open: one
                   probe (MaxRequests 1), the other calls fail locally; a failed probe opens it
                   again for O, a good one closes it
  naive:F:O        no half-open state: after O it simply closes again, and needs F more
                   failures to trip (a burst of F calls into the failing dependency each time)

Open loop: R calls per second for S seconds, each in a thread (at most 64 at once). Prints one
line: calls= ok= failed= fast_failed= retries=.
"""
import argparse
import collections
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import urllib3
from urllib3.util import Retry, Timeout

ap = argparse.ArgumentParser()
ap.add_argument("--url", required=True)
ap.add_argument("--rate", type=float, default=10)
ap.add_argument("--duration", type=float, default=8)
ap.add_argument("--timeout", type=float, default=5)
ap.add_argument("--retry", default="")
ap.add_argument("--budget", default="")
ap.add_argument("--breaker", default="")
ap.add_argument("--go", default="")
a = ap.parse_args()

lock = threading.Lock()
stats = collections.Counter()


class Budget:
    """Finagle-shaped retry budget over a sliding window."""
    def __init__(self, pct, window):
        self.pct, self.window = pct, window
        self.first, self.retries = collections.deque(), collections.deque()

    def _trim(self, now):
        for q in (self.first, self.retries):
            while q and q[0] < now - self.window:
                q.popleft()

    def deposit(self):
        with lock:
            now = time.monotonic()
            self._trim(now)
            self.first.append(now)

    def withdraw(self):
        with lock:
            now = time.monotonic()
            self._trim(now)
            if len(self.retries) + 1 > self.pct * len(self.first):
                return False
            self.retries.append(now)
            return True


budget = None
if a.budget:
    p, w = a.budget.split(":")
    budget = Budget(float(p), float(w))


class PolicyRetry(Retry):
    """urllib3 Retry with a chosen pause and an optional budget."""
    policy = ("stock", 0.0, 0.0, 0.0)

    def get_backoff_time(self):
        kind, b, m, rnd = self.policy
        n = len(self.history)     # failed attempts so far: the pause before retry n
        if kind == "stock" or n == 0:
            return super().get_backoff_time()
        if kind == "fixed":
            return b
        return b * (m ** (n - 1)) * random.uniform(1 - rnd, 1 + rnd)

    def increment(self, *args, **kw):
        if budget is not None and not budget.withdraw():
            raise urllib3.exceptions.MaxRetryError(kw.get("_pool"), kw.get("url"), "retry budget spent")
        with lock:
            stats["retries"] += 1
        return super().increment(*args, **kw)


def make_retry():
    if not a.retry:
        return Retry(0, raise_on_status=False)
    parts = a.retry.split(":")
    kind, n = parts[0], int(parts[1])
    args = [float(x) for x in parts[2:]]
    factor = args[0] if kind == "stock" else 0
    r = PolicyRetry(total=n, connect=n, read=n, status=n, backoff_factor=factor,
                    status_forcelist=[500, 502, 503, 504], allowed_methods=None,
                    raise_on_status=False, respect_retry_after_header=False)
    PolicyRetry.policy = (kind, args[0] if args else 0, args[1] if len(args) > 1 else 0,
                          args[2] if len(args) > 2 else 0)
    return r


class Breaker:
    def __init__(self, mode, fails, open_s):
        self.mode, self.fails, self.open_s = mode, fails, open_s
        self.state, self.count, self.opened, self.probe = "closed", 0, 0.0, False

    def allow(self):
        with lock:
            now = time.monotonic()
            if self.state == "open" and now - self.opened >= self.open_s:
                if self.mode == "naive":
                    self.state, self.count = "closed", 0
                else:
                    self.state, self.probe = "half", False
            if self.state == "closed":
                return True
            if self.state == "half" and not self.probe:
                self.probe = True
                return True
            return False

    def result(self, ok):
        with lock:
            if self.state == "half":
                self.probe = False
                if ok:
                    self.state, self.count = "closed", 0
                else:
                    self.state, self.opened = "open", time.monotonic()
                return
            if ok:
                self.count = 0
                return
            self.count += 1
            if self.state == "closed" and self.count >= self.fails:
                self.state, self.opened = "open", time.monotonic()


breaker = None
if a.breaker:
    m, f, o = a.breaker.split(":")
    breaker = Breaker(m, int(f), float(o))

pool = urllib3.PoolManager(maxsize=64, timeout=Timeout(total=a.timeout))


def call(i):
    if breaker is not None and not breaker.allow():
        with lock:
            stats["fast_failed"] += 1
            stats["calls"] += 1
        return
    if budget is not None:
        budget.deposit()
    ok = False
    try:
        r = pool.request("GET", a.url, retries=make_retry(), headers={"X-Request-Id": "c%d-%d" % (os.getpid(), i)})
        ok = r.status < 500
    except Exception:
        ok = False
    if breaker is not None:
        breaker.result(ok)
    with lock:
        stats["calls"] += 1
        stats["ok" if ok else "failed"] += 1


if a.go:
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists(a.go) and time.monotonic() < deadline:
        time.sleep(0.02)
t0 = time.monotonic()
n = int(a.rate * a.duration)
with ThreadPoolExecutor(max_workers=64) as ex:
    for i in range(n):
        d = t0 + i / a.rate - time.monotonic()
        if d > 0:
            time.sleep(d)
        ex.submit(call, i)
print(" ".join("%s=%d" % (k, stats[k]) for k in ("calls", "ok", "failed", "fast_failed", "retries")))
