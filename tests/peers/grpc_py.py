#!/usr/bin/python3
"""tests/peers/grpc_py.py -- a gRPC server and client on Debian's python3-grpcio (run it with
/usr/bin/python3), with no generated code: messages are raw bytes, the service is test.Echo, as
tests/peers/grpc_peer.js (node) serves it.

  grpc_py.py server [--dep ADDR] [--propagate yes|no]   prints "listening PORT"
    Unary          the request back (metadata sleep-ms: after that long; fail: that status)
    ServerStream   "N" or "N,MS": N messages "m<i>" MS ms apart
    Chain          Unary on --dep with what is left of the caller's deadline (yes) or none (no)
  grpc_py.py call ADDR METHOD [--timeout-ms N] [--n N] [--msg TEXT] [--meta K=V] [--stream]
    one line per call "call i code=C ms=T msgs=K detail=...", then "done ok=N err=M"
"""
import sys
import time
from concurrent import futures

import grpc

CODES = {c.value[0]: c for c in grpc.StatusCode}


def opt(name, default=None):
    a = sys.argv
    return a[a.index(name) + 1] if name in a else default


def server():
    dep = opt("--dep")
    prop = opt("--propagate", "yes")
    chan = grpc.insecure_channel(dep) if dep else None

    def unary(req, ctx):
        md = dict(ctx.invocation_metadata())
        if "sleep-ms" in md:
            time.sleep(int(md["sleep-ms"]) / 1000.0)
        if "fail" in md:
            ctx.abort(CODES[int(md["fail"])], "failed on request")
        return req

    def stream(req, ctx):
        parts = req.decode().split(",")
        n, ms = int(parts[0]), int(parts[1]) if len(parts) > 1 else 0
        for i in range(n):
            if not ctx.is_active():
                return
            yield b"m%d" % i
            if ms:
                time.sleep(ms / 1000.0)

    def chain(req, ctx):
        left = ctx.time_remaining()
        timeout = left if prop == "yes" and left is not None else None
        try:
            return chan.unary_unary("/test.Echo/Unary")(req, timeout=timeout)
        except grpc.RpcError as e:
            ctx.abort(e.code(), "dependency: " + (e.details() or ""))

    handler = grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(unary),
        "ServerStream": grpc.unary_stream_rpc_method_handler(stream),
        "Chain": grpc.unary_unary_rpc_method_handler(chain),
    })
    srv = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    srv.add_generic_rpc_handlers((handler,))
    port = srv.add_insecure_port("127.0.0.1:" + opt("--port", "0"))
    srv.start()
    print("listening %d" % port, flush=True)
    srv.wait_for_termination()


def client():
    addr, method = sys.argv[2], sys.argv[3]
    n = int(opt("--n", "1"))
    tmo = opt("--timeout-ms")
    timeout = int(tmo) / 1000.0 if tmo else None
    msg = opt("--msg", "ping").encode()
    meta = [tuple(sys.argv[i + 1].split("=", 1)) for i, a in enumerate(sys.argv) if a == "--meta"]
    chan = grpc.insecure_channel(addr, options=[("grpc.enable_retries", 0)])
    ok = bad = 0
    for i in range(n):
        t0 = time.time()
        code, msgs, detail = 0, 0, ""
        try:
            if "--stream" in sys.argv:
                for m in chan.unary_stream("/test.Echo/" + method)(msg, timeout=timeout, metadata=meta):
                    msgs += 1
                    print("msg %d %s ms=%d" % (i, m.decode(), (time.time() - t0) * 1000), flush=True)
            else:
                detail = chan.unary_unary("/test.Echo/" + method)(msg, timeout=timeout, metadata=meta).decode(errors="replace")
                msgs = 1
        except grpc.RpcError as e:
            code, detail = e.code().value[0], e.details() or ""
        ok += code == 0
        bad += code != 0
        print("call %d code=%d ms=%d msgs=%d detail=%r" % (i, code, (time.time() - t0) * 1000, msgs, detail), flush=True)
    print("done ok=%d err=%d" % (ok, bad), flush=True)
    chan.close()


if __name__ == "__main__":
    {"server": server, "call": client}[sys.argv[1]]()
