#!/usr/bin/env bash
# TLS records that arrive in pieces (a slow link, a slicer, TCP segmentation under backpressure)
# cost no CPU while faultline waits for the rest, and never stop its loop: a partial record
# buffered by OpenSSL once made the TLS reader re-arm itself without polling, spinning a core
# until the rest came -- and for ever when the rest had to come from the same process (a chain of
# two proxies in one daemon, the 5 MB round trip of tls_tcp.sh under load).
# Measured as the daemon's own CPU time (/proc/PID/stat), which load on the machine does not change.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

mk_cert "$TT/c"
start_peer ECHO 127.0.0.1:0 echo || { fail echo_start; done_tests; exit; }
start_tlsup UP "$TT/c/cert.pem" "$TT/c/key.pem" || { fail tlsup_start; done_tests; exit; }
D1=$(free_port); D2=$(free_port); O=$(free_port); T=$(free_port); P=$(free_port)
# the dribbler: a plain tcp daemon slicing TLS bytes into 60-byte pieces 30 ms apart
cat >"$TT/d.ini" <<EOT
[faultline]
admin = off
[proxy down]
listen = 127.0.0.1:$D1
upstream = 127.0.0.1:$UP
[proxy up]
listen = 127.0.0.1:$D2
upstream = 127.0.0.1:$T
[fault slice-down]
proxy = down
type = slicer
size = 60
delay = 30ms
direction = downstream
[fault slice-up]
proxy = up
type = slicer
size = 60
delay = 30ms
direction = upstream
EOT
start_fl "$TT/d.ini" "$TT/d.log" || { fail dribbler_start "$(cat "$TT/d.log")"; done_tests; exit; }
# the daemon under test: originates TLS through the dribbler (orig), terminates TLS behind it
# (term), and carries plain bytes beside them (plain)
cat >"$TT/a.ini" <<EOT
[faultline]
admin = off
[proxy orig]
listen = 127.0.0.1:$O
upstream = 127.0.0.1:$D1
upstream_tls = on
upstream_ca = $TT/c/cert.pem
upstream_sni = localhost
[proxy term]
listen = 127.0.0.1:$T
upstream = 127.0.0.1:$ECHO
tls = terminate
tls_cert = $TT/c/cert.pem
tls_key = $TT/c/key.pem
[proxy plain]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$ECHO
EOT
start_fl "$TT/a.ini" "$TT/a.log" || { fail fl_start "$(cat "$TT/a.log")"; done_tests; exit; }
A=$FL_PID
HZ=$(getconf CLK_TCK)
cpu_ms() { awk -v hz="$HZ" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$A/stat"; }
# plain_ms: one echo through the plain proxy while a dribble goes on: its ms
plain_ms() { sleep 1; kv "$("$TBIN/flpeer" echo "127.0.0.1:$P" 100 2>/dev/null)" ms; }

# --- originate: a 6,000-byte answer reaches faultline 60 bytes at a time (~3 s)
c0=$(cpu_ms)
plain_ms >"$TT/pm1" &
pm=$!
out=$(curl -sS -m 30 -o "$TT/body" -w '%{http_code} %{size_download} %{time_total}' "http://127.0.0.1:$O/bytes/6000")
wait $pm
c1=$(cpu_ms)
echo "# originate: $out; daemon cpu $((c1 - c0)) ms; plain echo during it $(cat "$TT/pm1") ms"
check orig_answer_whole [ "$(cut -d' ' -f1-2 <<<"$out")" = "200 6000" ]
check orig_took_the_dribble within "$(cut -d' ' -f3 <<<"$out")" 1.5 30
check orig_no_spin [ $((c1 - c0)) -lt 600 ]
check orig_loop_not_stopped within "$(cat "$TT/pm1")" 0 1500

# --- terminate: a client's 6,000 bytes reach faultline's TLS server 60 bytes at a time
c0=$(cpu_ms)
plain_ms >"$TT/pm2" &
pm=$!
out=$(timeout 40 python3 - "$D2" "$TT/c/cert.pem" <<'PY'
import socket, ssl, sys, time
ctx = ssl.create_default_context(cafile=sys.argv[2])
s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(sys.argv[1]))), server_hostname="localhost")
s.settimeout(30)
data = bytes(range(256)) * 23 + b"x" * 112   # 6000 bytes
t0 = time.time()
s.sendall(data)
got = b""
while len(got) < len(data):
    b = s.recv(65536)
    if not b:
        break
    got += b
print("recv=%d match=%s s=%.2f" % (len(got), "yes" if got == data else "no", time.time() - t0))
PY
)
wait $pm
c1=$(cpu_ms)
echo "# terminate: $out; daemon cpu $((c1 - c0)) ms; plain echo during it $(cat "$TT/pm2") ms"
check term_bytes_whole grep -q 'recv=6000 match=yes' <<<"$out"
check term_no_spin [ $((c1 - c0)) -lt 600 ]
check term_loop_not_stopped within "$(cat "$TT/pm2")" 0 1500
done_tests
