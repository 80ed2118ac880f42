#!/usr/bin/env bash
# Scoping (docs/faults.md "Scoping"): `clients` limits a fault to callers by source address, seen
# with real clients bound to 127.0.0.2 and 127.0.0.1 (python's source_address, curl --interface);
# `max_active` caps the connections or requests a fault holds at once, the rest pass unfaulted
# and /stats, /metrics count them (capped); clients also scope a redis proxy's own fault and a TLS
# fault (the handshake); bad values are refused by `check` with file:line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/../protocols/http_lib.bash"

# rtt SRC PORT: milliseconds of one 1-byte round trip through 127.0.0.1:PORT from address SRC
rtt() {
    python3 - "$1" "$2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5, source_address=(sys.argv[1], 0))
t = time.monotonic()
s.sendall(b"x")
s.recv(1)
print(int((time.monotonic() - t) * 1000))
PY
}

AP=$(free_port)
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
{
    printf '[faultline]\nadmin = 127.0.0.1:%s\nlog = debug\n' "$AP"
    printf '[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LP" "$UP"
    printf '[fault slow]\nproxy = p\ntype = latency\ndelay = 300ms\nclients = 127.0.0.2/32, ::1/128\n'
} >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
wait_port "$AP" 10

a=$(rtt 127.0.0.2 "$LP"); b=$(rtt 127.0.0.1 "$LP")
echo "# clients = 127.0.0.2/32: from 127.0.0.2 ${a} ms, from 127.0.0.1 ${b} ms"
# an undelayed trip is anything below the delay (300 ms; 800 ms on http): a delayed one cannot
# come sooner, and a loaded machine's undelayed trip can take well over 100 ms
check scope_tcp_in_range_delayed within "$a" 280 2000
check scope_tcp_out_of_range_fast within "$b" 0 279
stats=$(curl -s -m 5 "http://127.0.0.1:$AP/faults/slow")
check scope_tcp_out_of_range_not_seen [ "$(jq -r .counters.conns_seen <<<"$stats")" = 1 ]
check scope_attrs_shown [ "$(jq -r .attributes.clients <<<"$stats")" = "127.0.0.2/32, ::1/128" ]

# max_active = 1: of two connections open at once only the first is delayed
{
    printf '[faultline]\nadmin = 127.0.0.1:%s\nlog = debug\n' "$AP"
    printf '[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$LP" "$UP"
    printf '[fault slow]\nproxy = p\ntype = latency\ndelay = 300ms\nmax_active = 1\n'
} >"$TT/p.ini"
reload || fail reload "no reload"
out=$(python3 - "$LP" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
a = socket.create_connection(("127.0.0.1", port), timeout=5)
time.sleep(0.1)
b = socket.create_connection(("127.0.0.1", port), timeout=5)
def rtt(s):
    t = time.monotonic(); s.sendall(b"x"); s.recv(1); return int((time.monotonic() - t) * 1000)
ra, rb = rtt(a), rtt(b)
a.close(); b.close()
time.sleep(0.2)
c = socket.create_connection(("127.0.0.1", port), timeout=5)
print(ra, rb, rtt(c))
PY
)
read -r ra rb rc <<<"$out"
echo "# max_active = 1: first ${ra} ms, second (at once) ${rb} ms, third (after both closed) ${rc} ms"
check max_active_tcp_first_delayed within "$ra" 280 2000
check max_active_tcp_second_passes within "$rb" 0 279
check max_active_tcp_place_given_back within "$rc" 280 2000
stats=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
check max_active_capped_in_stats [ "$(jq -r '.proxies.p.faults.slow.capped' <<<"$stats")" = 1 ]
check max_active_capped_in_metrics bash -c "curl -s -m 5 http://127.0.0.1:$AP/metrics | grep -q '^faultline_fault_capped_total{proxy=\"p\",fault=\"slow\",type=\"latency\"} 1'"
stop_pid "$FL_PID"

# http: clients and max_active per request, with curl bound to each address
start_httpup HUP || { fail start "httpup"; exit 1; }
HP=$(free_port)
http_proxy_ini "$TT/h.ini" "$HP" "$HUP"
sed -i "s/^admin = off/admin = 127.0.0.1:$AP/" "$TT/h.ini"
cat >>"$TT/h.ini" <<INI
[fault err]
proxy = web
type = http_error
status = 503
clients = 127.0.0.2
match_path = /err
[fault hold]
proxy = web
type = latency
delay = 800ms
max_active = 1
match_path = /slow
INI
start_fl "$TT/h.ini" || { fail start "faultline did not start"; exit 1; }
wait_port "$AP" 10
c2=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.2 "http://127.0.0.1:$HP/err")
c1=$(curl -s -m 5 -o /dev/null -w '%{http_code}' --interface 127.0.0.1 "http://127.0.0.1:$HP/err")
echo "# http clients = 127.0.0.2: from 127.0.0.2 $c2, from 127.0.0.1 $c1"
check scope_http_in_range_faulted [ "$c2" = 503 ]
check scope_http_out_of_range_passes [ "$c1" = 200 ]
# two requests at once: one waits 800 ms, the other passes
t0=$(date +%s%N)
curl -s -m 5 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$HP/slow" >"$TT/s1" &
sleep 0.1
curl -s -m 5 -o /dev/null -w '%{time_total}\n' "http://127.0.0.1:$HP/slow" >"$TT/s2"
wait $!
s1=$(awk '{print int($1*1000)}' "$TT/s1"); s2=$(awk '{print int($1*1000)}' "$TT/s2")
echo "# http max_active = 1: first ${s1} ms, second ${s2} ms"
check max_active_http_first_delayed within "$s1" 750 3000
check max_active_http_second_passes within "$s2" 0 749
s3=$(ms_of curl -s -m 5 "http://127.0.0.1:$HP/slow")
check max_active_http_place_given_back within "$s3" 750 3000
stats=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
check max_active_http_capped [ "$(jq -r '.proxies.web.faults.hold.capped' <<<"$stats")" = 1 ]
check max_active_http_none_held [ "$(jq -r '.proxies.web.faults.hold.active' <<<"$stats")" = 0 ]
stop_pid "$FL_PID"

# TLS faults act on the handshake: clients scopes them too (curl bound to each address)
if command -v openssl >/dev/null 2>&1; then
    CA="$TT/ca"
    "$FL" ca init "$CA" --domain example.test --domain 127.0.0.1 >/dev/null 2>&1
    TP=$(free_port)
    printf '[faultline]\nadmin = off\n[proxy tweb]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\ntls = terminate\ntls_ca = %s\n[fault alert]\nproxy = tweb\ntype = tls_alert\nalert = protocol_version\nclients = 127.0.0.2\n' \
        "$TP" "$HUP" "$CA" >"$TT/t.ini"
    start_fl "$TT/t.ini" || fail start "faultline did not start"
    tc() { curl -sS -m 5 --cacert "$CA/ca.crt" --interface "$1" -o /dev/null -w '%{http_code}' "https://127.0.0.1:$TP/" 2>&1; }
    a=$(tc 127.0.0.2); b=$(tc 127.0.0.1)
    echo "# tls_alert clients = 127.0.0.2: from 127.0.0.2 '$a', from 127.0.0.1 '$b'"
    check scope_tls_in_range grep -q "alert protocol version" <<<"$a"
    check scope_tls_out_of_range [ "$b" = 200 ]
    stop_pid "$FL_PID"
fi

# redis (a framed engine: per command): a redis_error scoped to 127.0.0.2
if command -v redis-server >/dev/null 2>&1; then
    start_redis || fail redis_start "redis did not start"
    RP=$(free_port)
    printf '[faultline]\nadmin = off\n[proxy cache]\nlisten = 127.0.0.1:%s\nupstream = unix:%s\nmode = redis\n[fault ro]\nproxy = cache\ntype = redis_error\nerror = READONLY\nclients = 127.0.0.2/32\n' \
        "$RP" "$REDIS_SOCK" >"$TT/r.ini"
    start_fl "$TT/r.ini" || fail start "faultline did not start"
    ping() {
        python3 - "$1" "$RP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5, source_address=(sys.argv[1], 0))
s.sendall(b"PING\r\n")
print(s.recv(100).decode().strip())
PY
    }
    a=$(ping 127.0.0.2); b=$(ping 127.0.0.1)
    echo "# redis clients = 127.0.0.2/32: from 127.0.0.2 '$a', from 127.0.0.1 '$b'"
    check scope_redis_in_range [ "${a%% *}" = -READONLY ]
    check scope_redis_out_of_range [ "$b" = +PONG ]
    stop_pid "$FL_PID"
else
    echo "# skip: redis-server not installed -- the redis case of clients not run"
fi

# bad values: check names the file and line
bad() {
    local name=$1 line=$2 want=$3
    fprofile "$TT/b.ini" 1 "$(free_port)" '[fault f]' 'proxy = p' 'type = latency' 'delay = 1ms' "$line"
    out=$("$FL" check "$TT/b.ini" 2>&1)
    check "$name" bash -c "grep -q 'b.ini:11: .*$want' <<<'$out'"
}
bad bad_clients_addr 'clients = 10.0.0.300/8' "not an IPv4 or IPv6 address"
bad bad_clients_prefix 'clients = 10.0.0.0/33' "prefix must be 0..32"
bad bad_clients_v6_prefix 'clients = ::1/129' "prefix must be 0..128"
bad bad_clients_host_bits 'clients = 10.1.0.0/8' "bits set past"
bad bad_clients_empty 'clients = ' "no address"
bad bad_max_active_zero 'max_active = 0' "max_active"
fprofile "$TT/b.ini" 1 "$(free_port)" '[fault f]' 'proxy = p' 'type = refuse' 'clients = 127.0.0.2'
check bad_clients_on_refuse bash -c "'$FL' check '$TT/b.ini' 2>&1 | grep -q 'b.ini:.*clients: refuse'"
done_tests
