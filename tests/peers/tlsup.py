#!/usr/bin/env python3
"""tlsup.py CERT KEY [PORT] -- an HTTPS/1.1 upstream for tests/protocols/tls_*.sh (Python's ssl,
an implementation other than faultline's). Prints "listening PORT" once bound, serves until
killed. Keep-alive; answers by path:
  /            200 "hello\n"
  /bytes/N     200, N bytes ("x" * N)
  /status/N    status N, body "status\n"
  /sni         200, the SNI the client sent ("-" when none)
  /alpn        200, the ALPN protocol selected ("-" when none)
"""
import http.server
import ssl
import sys


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def do_GET(self):
        code, body = 200, b"hello\n"
        p = self.path
        if p.startswith("/bytes/"):
            body = b"x" * int(p[7:])
        elif p.startswith("/status/"):
            code, body = int(p[8:]), b"status\n"
        elif p == "/sni":
            body = (getattr(self.connection, "fl_sni", None) or "-").encode() + b"\n"
        elif p == "/alpn":
            body = (self.connection.selected_alpn_protocol() or "-").encode() + b"\n"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def main():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(sys.argv[1], sys.argv[2])
    ctx.set_alpn_protocols(["http/1.1"])

    def sni_cb(sock, name, _ctx):
        sock.fl_sni = name

    ctx.sni_callback = sni_cb
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[3]) if len(sys.argv) > 3 else 0), H)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("listening %d" % srv.server_address[1], flush=True)
    srv.serve_forever()


main()
