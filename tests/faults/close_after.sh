#!/usr/bin/env bash
# close_after: connections with a limited life, as real clients see them. tcp: after `age` the
# client reads EOF (close = fin) or ECONNRESET (close = rst); after `bytes` it gets exactly that
# many, then EOF. http: after `requests` responses the connection is closed between requests --
# a bare http.client that reuses it fails (the keep-alive race), requests.Session notices the
# FIN and opens a new connection (httpup's X-Req counts requests per connection).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
# idle PORT: connect, one round trip, then wait for the proxy to end it: how and when
idle() {
    python3 - "$1" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t = time.monotonic(); s.sendall(b"ping\n"); s.recv(64)
try:
    b = s.recv(64); print("result=%s ms=%.0f" % ("eof" if not b else "data", (time.monotonic() - t) * 1000))
except ConnectionResetError as e:
    print("result=reset ms=%.0f error=%r" % ((time.monotonic() - t) * 1000, e))
except socket.timeout:
    print("result=timeout")
EOF
}
fprofile "$TT/p.ini" "$UP" "$LP" '[fault life]' 'proxy = p' 'type = close_after' 'age = 300ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$(idle "$LP")
echo "# age 300ms fin: $out"
check close_after_age_fin [ "$(kv "$out" result)" = eof ]
check close_after_age_time within "$(kv "$out" ms)" 250 700
fprofile "$TT/p.ini" "$UP" "$LP" '[fault life]' 'proxy = p' 'type = close_after' 'age = 300ms' 'close = rst'
reload || fail reload "no reload"
out=$(idle "$LP")
echo "# age 300ms rst: $out"
check close_after_age_rst [ "$(kv "$out" result)" = reset ]

fprofile "$TT/p.ini" "$UP" "$LP" '[fault life]' 'proxy = p' 'type = close_after' 'bytes = 10000' 'direction = downstream'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100000 4096)
echo "# bytes 10000: $out"
check close_after_bytes_exact [ "$(kv "$out" recv)" = 10000 ]
stop_pid "$FL_PID"

# http: requests = 3
start_httpup HUP || { fail start "httpup"; exit 1; }
HP=$(free_port)
http_proxy_ini "$TT/h.ini" "$HP" "$HUP"
printf '[fault life]\nproxy = web\ntype = close_after\nrequests = 3\n[fault slow]\nproxy = web\ntype = latency\ndelay = 100ms\nmatch_path = /slow\n' >>"$TT/h.ini"
sed -i 's/^admin = off$/admin = off\nlog = debug/' "$TT/h.ini"
start_fl "$TT/h.ini" || { fail start "faultline did not start"; exit 1; }
out=$(python3 - "$HP" <<'EOF'
import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
seen = []
for i in range(4):
    try:
        c.request("GET", "/"); r = c.getresponse(); r.read(); seen.append(r.getheader("X-Req"))
    except Exception as e:
        seen.append(type(e).__name__)
    time.sleep(0.05)
print("bare=" + ",".join(seen))
EOF
)
echo "# http.client, requests = 3: $out"
check close_after_http_three_then_race [ "$(kv "$out" bare)" = "1,2,3,RemoteDisconnected" ]
out=$(python3 - "$HP" <<'EOF'
import requests, sys, time
s = requests.Session()
xs, ms = [], []
for i in range(7):
    t = time.monotonic()
    r = s.get("http://127.0.0.1:%s/%s" % (sys.argv[1], "slow" if i == 0 else ""), timeout=5)
    xs.append(r.headers["X-Req"]); ms.append((time.monotonic() - t) * 1000)
    time.sleep(0.05)
print("session=%s first_ms=%.0f" % (",".join(xs), ms[0]))
EOF
)
echo "# requests.Session, requests = 3: $out"
check close_after_http_pool_reconnects [ "$(kv "$out" session)" = "1,2,3,1,2,3,1" ]
check close_after_http_other_faults_act within "$(kv "$out" first_ms)" 90 1000
check close_after_http_counted grep -q 'fault=life' "$FL_LOG"
done_tests
