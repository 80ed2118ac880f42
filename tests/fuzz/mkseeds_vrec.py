#!/usr/bin/env python3
"""tests/fuzz/mkseeds_vrec.py [DIR] -- seeds for fuzz_vrec: the RESP byte streams a Redis holding
a small run record answers to the verifier's commands, in the order record/read.c sends them
(PING, ZSCORE, SMEMBERS, TTL, HGETALL meta, XRANGE faults, HGETALL fault counters, XRANGE phases,
then per proxy HGET role, HGETALL ts, XRANGE events)."""
import os
import sys


def bulk(s):
    b = s.encode() if isinstance(s, str) else s
    return b"$%d\r\n%s\r\n" % (len(b), b)


def arr(items):
    return b"*%d\r\n" % len(items) + b"".join(items)


def flat(d):
    out = []
    for k, v in d:
        out += [bulk(k), bulk(v)]
    return arr(out)


def entry(i, kv):
    return arr([bulk("%d-0" % i), flat(kv)])


PROFILE = "[proxy db]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nid_header = X-Id\n" \
          "[fault f]\nproxy = db\ntype = hang\non_end = release\n"


def record(start=1700000000000, faults=True, events=True):
    s = b"+PONG\r\n" + bulk(str(start)) + arr([bulk("i1")]) + b":604800\r\n"
    s += flat([("started_ms", str(start)), ("ended_ms", str(start + 60000)), ("profile", PROFILE),
               ("role:db", "egress")])
    if faults:
        s += arr([entry(1, [("fault", "f"), ("proxy", "db"), ("type", "hang"), ("event", "start"),
                            ("at_ms", str(start + 1000)), ("inst", "i1")]),
                  entry(2, [("fault", "f"), ("event", "end"), ("at_ms", str(start + 5000)), ("inst", "i1")])])
        s += flat([("conns_affected", "3"), ("requests_affected", "2"), ("abandoned", "1"), ("proxy", "db"),
                   ("type", "hang")])
    else:
        s += arr([])
    s += arr([entry(3, [("phase", "inject"), ("event", "start"), ("at_ms", str(start + 900))]),
              entry(4, [("phase", "inject"), ("event", "end"), ("at_ms", str(start + 6000))])])
    # vrec_proxy("db"): role, series, events
    s += bulk("ingress")
    s += flat([(str(start // 1000 + 1), "new=2 peak=2 cur=1 req=3 err=1 inflight=0 faults=1 up=10 down=20"),
               (str(start // 1000 + 2), "new=1 cur=0 req=1")])
    if events:
        s += arr([entry(5, [("kind", "conn"), ("inst", "i1"), ("id", "1"), ("open_ms", str(start + 1100)),
                            ("close_ms", str(start + 2000)), ("closed_by", "client"), ("fault", "f"),
                            ("bytes_up", "10"), ("bytes_down", "20"), ("hang_ms", str(start + 1200))]),
                  entry(6, [("kind", "request"), ("inst", "i1"), ("conn", "1"), ("method", "GET"), ("path", "/x"),
                            ("status", "200"), ("req_ms", str(start + 1150)), ("total_ms", "3.5"),
                            ("request_id", "abc"), ("end", "done"), ("held_at_end", "1")])])
    return s


seeds = {
    "record": record(),
    "no_faults": record(faults=False),
    "no_events": record(events=False),
    "unknown_run": b"+PONG\r\n$-1\r\n*0\r\n:-2\r\n*0\r\n*0\r\n" + b"*0\r\n:-2\r\n" + b"*0\r\n",
    "error_reply": b"+PONG\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    "nil_members": b"+PONG\r\n$-1\r\n*2\r\n$-1\r\n:5\r\n:1\r\n*2\r\n:1\r\n$-1\r\n",
    "ints_in_stream": b"+PONG\r\n$2\r\n10\r\n*1\r\n$2\r\ni1\r\n:1\r\n*0\r\n*1\r\n*2\r\n:1\r\n*2\r\n:2\r\n:3\r\n*0\r\n",
}
d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "fuzz_vrec")
os.makedirs(d, exist_ok=True)
for k, v in seeds.items():
    open(os.path.join(d, k), "wb").write(v)
print(len(seeds), "seeds in", d)
