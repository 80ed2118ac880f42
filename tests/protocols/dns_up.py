#!/usr/bin/python3
"""tests/protocols/dns_up.py -- an upstream DNS server for the forwarding tests (dnspython's
message code, sockets by hand), on UDP and TCP at one port: prints "listening PORT".

  big.test A    UDP: an empty answer with TC set; TCP: 40 A records (over 512 bytes)
  wide.test A   45 A records (about 740 bytes) over either, as asked: with EDNS when the query had it
  opt.test TXT  one TXT record saying what the query's EDNS OPT was: "size=N opts=K" or "none"
  anything else NXDOMAIN
It counts what it got: a TXT query for count.test answers "udp=N tcp=M".
"""
import socket
import struct
import sys
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rrset

counts = {"udp": 0, "tcp": 0}


def answer(wire, tcp):
    q = dns.message.from_wire(wire)
    r = dns.message.make_response(q)
    name = str(q.question[0].name).rstrip(".").lower()
    if name == "big.test":
        if not tcp:
            r.flags |= dns.flags.TC
        else:
            r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A",
                                                *["10.0.%d.%d" % (i // 250, i % 250 + 1) for i in range(40)]))
    elif name == "wide.test":
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "A", *["10.1.0.%d" % (i + 1) for i in range(45)]))
    elif name == "opt.test":
        txt = "size=%d opts=%d" % (q.payload, len(q.options)) if q.edns >= 0 else "none"
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "TXT", '"%s"' % txt))
    elif name == "count.test":
        r.answer.append(dns.rrset.from_text(q.question[0].name, 60, "IN", "TXT", '"udp=%d tcp=%d"' % (counts["udp"], counts["tcp"])))
    else:
        r.set_rcode(dns.rcode.NXDOMAIN)
    return r.to_wire(max_size=65535)


def serve_tcp(ls):
    while True:
        c, _ = ls.accept()
        try:
            ln = struct.unpack(">H", c.recv(2, socket.MSG_WAITALL))[0]
            wire = c.recv(ln, socket.MSG_WAITALL)
            counts["tcp"] += 1
            out = answer(wire, True)
            c.sendall(struct.pack(">H", len(out)) + out)
        except Exception:
            pass
        c.close()


def main():
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0))
    port = u.getsockname()[1]
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", port))
    t.listen(16)
    threading.Thread(target=serve_tcp, args=(t,), daemon=True).start()
    print("listening %d" % port, flush=True)
    while True:
        wire, peer = u.recvfrom(4096)
        counts["udp"] += 1
        try:
            u.sendto(answer(wire, False), peer)
        except Exception:
            pass


if __name__ == "__main__":
    main()
