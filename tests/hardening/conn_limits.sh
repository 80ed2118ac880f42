#!/usr/bin/env bash
# Connection caps and idle timeouts (issue 20, M2; docs/profiles.md "Limits"):
#   1. max_conns per proxy and in total: past either, a new connection is reset at once, counted
#      in /metrics (faultline_connections_capped_total) and logged; the open ones keep working,
#      and room made by a close is taken again;
#   2. client_idle_timeout closes a connection nobody spoke on (http keep-alive, tcp);
#      upstream_idle_timeout one whose call waits on a silent upstream; a call held by a fault
#      (http hang, a tcp hang holding bytes) is never idle; a proxy can turn its timeout off.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_peer ECHO 127.0.0.1:0 echo
start_httpup UP
metric() { curl -s -m 3 "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m { print $2 }'; }

# ---- 1. caps ----
A=$(free_port); B=$(free_port); AP=$(free_port)
cat >"$TT/cap.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
max_conns = 30
[proxy a]
listen = 127.0.0.1:$A
upstream = 127.0.0.1:$ECHO
max_conns = 20
[proxy b]
listen = 127.0.0.1:$B
upstream = 127.0.0.1:$ECHO
INI
start_fl "$TT/cap.ini" || { fail start_caps "$(cat "$FL_LOG")"; exit 1; }
python3 - "$A" "$B" >"$TT/caps.out" <<'PY'
import socket, sys, time
a, b = int(sys.argv[1]), int(sys.argv[2])
def open_n(port, n):
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(2)
        out.append(s)
        time.sleep(0.005)
    return out
def alive(socks):
    ok = 0
    for s in socks:
        try:
            s.sendall(b"x")
            if s.recv(1) == b"x": ok += 1
        except OSError:
            pass
    return ok
sa = open_n(a, 25)
print("a_served", alive(sa))            # 20 of 25: the proxy's own cap
sb = open_n(b, 15)
print("b_served", alive(sb))            # 10 of 15: the total cap (20 + 10 = 30)
for s in sa + sb: s.close()
time.sleep(0.5)
print("again_served", alive(open_n(a, 5)))   # room again
PY
sed 's/^/# /' "$TT/caps.out"
check proxy_cap_serves_20 grep -qx 'a_served 20' "$TT/caps.out"
check total_cap_serves_10_more grep -qx 'b_served 10' "$TT/caps.out"
check room_again_after_close grep -qx 'again_served 5' "$TT/caps.out"
check capped_counted_a [ "$(metric "$AP" 'faultline_connections_capped_total{proxy="a"}')" = 5 ]
check capped_counted_b [ "$(metric "$AP" 'faultline_connections_capped_total{proxy="b"}')" = 5 ]
check capped_logged grep -q 'event=conn_capped proxy=a .*which=proxy' "$FL_LOG"
check capped_logged_total grep -q 'event=conn_capped proxy=b .*which=total' "$FL_LOG"
check capped_in_stats [ "$(curl -s -m 3 "http://127.0.0.1:$AP/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["proxies"]["a"]["capped"])')" = 5 ]
stop_pid "$FL_PID"

# ---- 2. idle timeouts ----
W=$(free_port); R=$(free_port); H=$(free_port); K=$(free_port); AP2=$(free_port)
cat >"$TT/idle.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP2
client_idle_timeout = 2s
upstream_idle_timeout = 3s
[proxy web]
listen = 127.0.0.1:$W
upstream = 127.0.0.1:$UP
mode = http
[fault held]
proxy = web
type = hang
match_path = /held
[proxy raw]
listen = 127.0.0.1:$R
upstream = 127.0.0.1:$ECHO
[proxy rawhold]
listen = 127.0.0.1:$H
upstream = 127.0.0.1:$ECHO
[fault tcphang]
proxy = rawhold
type = hang
direction = downstream
[proxy keep]
listen = 127.0.0.1:$K
upstream = 127.0.0.1:$ECHO
client_idle_timeout = off
INI
start_fl "$TT/idle.ini" || { fail start_idle "$(cat "$FL_LOG")"; exit 1; }
python3 - "$W" "$R" "$H" "$K" >"$TT/idle.out" <<'PY'
import socket, threading, time, sys
W, R, H, K = map(int, sys.argv[1:])
res = {}
def closed_after(name, port, send, want=None, limit=7.0):
    """seconds until the proxy closed the connection (after what was sent was answered), or 'open'"""
    s = socket.create_connection(("127.0.0.1", port))
    t0 = time.time()
    s.sendall(send)
    s.settimeout(0.2)
    got = b""
    while time.time() - t0 < limit:
        try:
            d = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            d = b""
        if not d:
            res[name] = "%.1f" % (time.time() - t0)
            s.close()
            return
        got += d
    res[name] = "open"
    s.close()
cases = [
    ("http_keepalive", W, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("http_slow_upstream", W, b"GET /sleep/8000 HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("http_held", W, b"GET /held HTTP/1.1\r\nHost: x\r\n\r\n"),
    ("tcp_idle", R, b"x"),
    ("tcp_held", H, b"x"),
    ("tcp_timeout_off", K, b"x"),
]
ts = [threading.Thread(target=closed_after, args=c) for c in cases]
for t in ts: t.start()
for t in ts: t.join()
for n, _, _ in cases: print(n, res[n])
PY
sed 's/^/# /' "$TT/idle.out"
at() { awk -v n="$1" '$1 == n { print $2 }' "$TT/idle.out"; }
secs() { local v; v=$(at "$1"); [ "$v" != open ] && within "$v" "$2" "$3"; }
check http_keepalive_closed_at_2s secs http_keepalive 1.5 4.5
check http_slow_upstream_closed_at_3s secs http_slow_upstream 2.5 5.5
check http_held_call_not_idle [ "$(at http_held)" = open ]
check tcp_idle_closed_at_2s secs tcp_idle 1.5 4.5
check tcp_held_bytes_not_idle [ "$(at tcp_held)" = open ]
check proxy_turns_timeout_off [ "$(at tcp_timeout_off)" = open ]
check idle_counted_web [ "$(metric "$AP2" 'faultline_connections_idle_closed_total{proxy="web"}')" = 2 ]
check idle_counted_raw [ "$(metric "$AP2" 'faultline_connections_idle_closed_total{proxy="raw"}')" = 1 ]
check idle_logged_upstream grep -q 'event=idle_closed proxy=web .*waiting_for=upstream' "$FL_LOG"
check idle_logged_client grep -q 'event=idle_closed proxy=raw .*waiting_for=client' "$FL_LOG"
check closed_by_proxy [ "$(metric "$AP2" 'faultline_connections_closed_total{proxy="raw",by="proxy"}')" -ge 1 ]
done_tests
