#!/usr/bin/env bash
# TLS under mode = tcp: terminate + originate with byte faults acting on the plaintext (a chain
# of two faultline proxies: "front" terminates and originates, "back" terminates in front of a
# plain echo server); every byte round-trips, half-close carried as close_notify; a plain tcp
# proxy still passes TLS bytes through untouched (curl end to end through it); openssl s_client.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

mk_cert "$TT/c"
start_peer ECHO 127.0.0.1:0 echo || { fail echo_start; done_tests; exit; }
start_tlsup UP "$TT/c/cert.pem" "$TT/c/key.pem" || { fail tlsup_start; done_tests; exit; }
F=$(free_port); B=$(free_port); S=$(free_port); PT=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
[proxy front]
listen = 127.0.0.1:$F
upstream = 127.0.0.1:$B
tls = terminate
tls_cert = $TT/c/cert.pem
tls_key = $TT/c/key.pem
upstream_tls = on
upstream_ca = $TT/c/cert.pem
[proxy back]
listen = 127.0.0.1:$B
upstream = 127.0.0.1:$ECHO
tls = terminate
tls_cert = $TT/c/cert.pem
tls_key = $TT/c/key.pem
[proxy slow]
listen = 127.0.0.1:$S
upstream = 127.0.0.1:$B
tls = terminate
tls_cert = $TT/c/cert.pem
tls_key = $TT/c/key.pem
upstream_tls = on
upstream_ca = $TT/c/cert.pem
[proxy pass]
listen = 127.0.0.1:$PT
upstream = 127.0.0.1:$UP
[fault lag]
proxy = slow
type = latency
delay = 300ms
direction = downstream
[fault pieces]
proxy = slow
type = slicer
size = 1000
delay = 1ms
direction = upstream
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }

# tlsecho PORT BYTES: a python ssl client sends BYTES pseudo-random bytes, closes its write half
# (close_notify + FIN), reads everything back; prints sent= recv= match= ms=
tlsecho() {
    timeout 30 python3 - "$1" "$2" "$TT/c/cert.pem" <<'PY'
import hashlib, os, socket, ssl, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
ctx = ssl.create_default_context(cafile=sys.argv[3])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="localhost")
data = os.urandom(n)
t0 = time.time()
s.sendall(data)
got = b""
s.settimeout(20)
want = len(data)
while len(got) < want:
    b = s.recv(65536)
    if not b:
        break
    got += b
s = s.unwrap()   # close_notify both ways (TLS 1.3 half-close)
print("sent=%d recv=%d match=%s ms=%d" % (n, len(got), "yes" if got == data else "no", (time.time() - t0) * 1000))
PY
}
out=$(tlsecho "$F" 5000000)
check tcp_tls_roundtrip_5mb grep -q "recv=5000000 match=yes" <<<"$out"
out=$(tlsecho "$F" 10)
check tcp_tls_small grep -q "recv=10 match=yes" <<<"$out"
out=$(tlsecho "$S" 200000)
ms=$(sed 's/.*ms=//' <<<"$out")
check byte_faults_on_plaintext eval 'grep -q "recv=200000 match=yes" <<<"$out" && within $ms 290 20000'
out=$(printf 'hello\n' | timeout 10 openssl s_client -connect 127.0.0.1:$F -CAfile "$TT/c/cert.pem" -quiet -verify_return_error 2>/dev/null)
check s_client_echo test "$out" = hello
# plain tcp: TLS bytes pass through untouched (curl speaks TLS to the upstream end to end)
check passthrough_unchanged test "$(curl -sS -m 10 --cacert "$TT/c/cert.pem" --resolve "localhost:$PT:127.0.0.1" "https://localhost:$PT/sni")" = localhost
check no_tls_errors bash -c "! grep -q 'event=tls_error' '$FL_LOG'"
done_tests
