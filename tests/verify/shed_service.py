#!/usr/bin/env python3
"""shed_service.py -- a small service with a fixed number of workers in front of one slow-able
dependency, for tests/verify/shedding.sh. GET /checkout takes a worker, calls the dependency
(urllib3) and answers 200, or 502 when the dependency failed.

  shed_service.py --listen PORT --dep URL --workers N --mode shed|queue

  shed   a request that finds every worker busy is answered 503 at once (a load shedder: a
         bounded pool that fails fast, resilience4j Bulkhead with maxWaitDuration 0, Envoy's
         adaptive concurrency)
  queue  it waits for a worker, however long (an unbounded executor queue, Tomcat's
         acceptCount): every caller waits behind the backlog

Prints "listening PORT" when ready.
"""
import argparse
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import urllib3
from urllib3.util import Timeout

ap = argparse.ArgumentParser()
ap.add_argument("--listen", type=int, required=True)
ap.add_argument("--dep", required=True)
ap.add_argument("--workers", type=int, default=4)
ap.add_argument("--mode", choices=["shed", "queue"], default="shed")
a = ap.parse_args()

slots = threading.BoundedSemaphore(a.workers)
pool = urllib3.PoolManager(maxsize=a.workers, timeout=Timeout(total=10), retries=False)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        b = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if not slots.acquire(blocking=(a.mode == "queue")):
            self.answer(503, "busy\n")
            return
        try:
            r = pool.request("GET", a.dep)
            ok = r.status < 500
        except Exception:
            ok = False
        finally:
            slots.release()
        self.answer(200 if ok else 502, "ok\n" if ok else "dependency failed\n")


class S(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True


srv = S(("127.0.0.1", a.listen), H)
print("listening %d" % a.listen, flush=True)
srv.serve_forever()
