#!/usr/bin/env python3
"""tests/protocols/dns_client.py -- a real resolver (dnspython) against faultline's mode = dns.

  dns_client.py PORT resolve NAME [TYPE] [LIFETIME]   dns.resolver.Resolver (UDP, TCP on TC)
  dns_client.py PORT udp NAME [TYPE]                  one raw UDP query: flags and answers, no retry
  dns_client.py PORT tcp NAME [TYPE]                  one raw TCP query
  dns_client.py PORT cached NAME SECONDS INTERVAL     a caching resolver asked every INTERVAL s
                                                      for SECONDS: one line per distinct answer

Prints one line: "ok ADDR[,ADDR...]" with the answers, "nxdomain", "noanswer", "timeout",
"servfail" / "refused" (no nameserver answered usefully), or for udp/tcp "rcode=R flags=F
answers=A". Needs dnspython (Debian: python3-dnspython)."""
import sys, time
import dns.message, dns.query, dns.resolver, dns.rcode, dns.flags, dns.exception

port, cmd, name = int(sys.argv[1]), sys.argv[2], sys.argv[3]


def resolver(lifetime):
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = ['127.0.0.1']
    r.port = port
    r.lifetime = lifetime
    r.timeout = lifetime
    return r


def addrs(ans):
    return ','.join(sorted(x.to_text() for x in ans))


def resolve(r, name, typ):
    try:
        return 'ok ' + addrs(r.resolve(name, typ, search=False))
    except dns.resolver.NXDOMAIN:
        return 'nxdomain'
    except dns.resolver.NoAnswer:
        return 'noanswer'
    except dns.resolver.LifetimeTimeout:
        return 'timeout'
    except dns.resolver.NoNameservers as e:
        s = str(e)
        return 'servfail' if 'SERVFAIL' in s else 'refused' if 'REFUSED' in s else 'nonameservers'


if cmd == 'resolve':
    typ = sys.argv[4] if len(sys.argv) > 4 else 'A'
    print(resolve(resolver(float(sys.argv[5]) if len(sys.argv) > 5 else 3.0), name, typ))
elif cmd in ('udp', 'tcp'):
    q = dns.message.make_query(name, sys.argv[4] if len(sys.argv) > 4 else 'A')
    try:
        fn = dns.query.udp if cmd == 'udp' else dns.query.tcp
        m = fn(q, '127.0.0.1', port=port, timeout=2, ignore_trailing=True)
    except dns.exception.Timeout:
        print('timeout')
        sys.exit(0)
    ans = [rr.to_text() for rrset in m.answer for rr in rrset]
    print('rcode=%s flags=%s answers=%s' % (dns.rcode.to_text(m.rcode()), dns.flags.to_text(m.flags).replace(' ', '|'),
                                             ','.join(ans) or '-'))
elif cmd == 'cached':
    secs, every = float(sys.argv[4]), float(sys.argv[5])
    r = resolver(2.0)
    r.cache = dns.resolver.Cache()
    last, end = None, time.time() + secs
    while time.time() < end:
        a = resolve(r, name, 'A')
        if a != last:
            print('%.1f %s' % (secs - (end - time.time()), a), flush=True)
            last = a
        time.sleep(every)
