#!/usr/bin/env bash
# mode = forward with real clients: curl -x and HTTPS_PROXY, Python's urllib (ProxyHandler), Node
# (undici's ProxyAgent when npm can install it, and a CONNECT made by hand with http/https).
# Absolute-form requests and CONNECT; with tls_ca the HTTPS inside CONNECT is opened (a leaf for
# the CONNECT host, the destination verified) and HTTP faults act by destination host; without
# it, a byte tunnel whose CONNECT takes the per-request faults. The allow-list (403, counted,
# never an open proxy), names mapped by resolve (no /etc/hosts edits) and a name resolved by
# evdns (localhost), several destinations on one client connection, an upstream that fails
# verification (502 inside HTTPS), a TLS fault matched by CONNECT host, hostile request lines,
# the profile's errors, and the record.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash
source tests/protocols/http_lib.bash

CA="$TT/ca"
"$FL" ca init "$CA" --domain example.test --domain 127.0.0.1 >/dev/null 2>&1
mk_cert "$TT/up" "DNS:api.example.test,DNS:bad.example.test,DNS:localhost,IP:127.0.0.1"
mk_cert "$TT/other"
start_tlsup TLSUP "$TT/up/cert.pem" "$TT/up/key.pem" || { fail tlsup_start; done_tests; exit; }
start_tlsup OTHERUP "$TT/other/cert.pem" "$TT/other/key.pem" || { fail tlsup2_start; done_tests; exit; }
start_httpup UP || { fail httpup_start; done_tests; exit; }
start_redis
P=$(free_port); T=$(free_port); N=$(free_port); BW=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
redis = $REDIS_URL
run = fwd-1
instance = i1
[proxy egress]
listen = 127.0.0.1:$P
mode = forward
tls_ca = $CA
upstream_ca = $TT/up/cert.pem
allow = api.example.test:$UP, api.example.test:$TLSUP, api.example.test:$OTHERUP, bad.example.test, localhost:$UP, 127.0.0.1:$UP
resolve = api.example.test:127.0.0.1, bad.example.test:127.0.0.1
[proxy tunnel]
listen = 127.0.0.1:$T
mode = forward
resolve = api.example.test:127.0.0.1, err.example.test:127.0.0.1
[proxy tunbw]
listen = 127.0.0.1:$BW
mode = forward
resolve = api.example.test:127.0.0.1
[proxy closed]
listen = 127.0.0.1:$N
mode = forward
[fault err]
proxy = egress
type = http_error
status = 503
match_host = api.example.test
match_path = /err*
[fault slow]
proxy = egress
type = latency
delay = 400ms
match_host = api.example.test
match_path = /slow*
[fault badcert]
proxy = egress
type = tls_bad_cert
cert = unknown_ca
match_host = bad.example.test
[fault setup]
proxy = tunnel
type = latency
delay = 600ms
match_host = api.example.test
[fault tunerr]
proxy = tunnel
type = http_error
status = 502
match_host = err.example.test
[fault tunrate]
proxy = tunbw
type = bandwidth
rate = 200KiB
EOT
check profile_ok "$FL" check "$TT/p.ini"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
H=api.example.test
X=(curl -sS -m 10 -x "http://127.0.0.1:$P")

# curl -x: absolute-form requests, faults by destination host, the allow-list
check curl_absolute test "$("${X[@]}" "http://$H:$UP/")" = hello
check curl_absolute_fault test "$("${X[@]}" -o /dev/null -w '%{http_code}' "http://$H:$UP/err")" = 503
check curl_host_is_destination test "$("${X[@]}" "http://$H:$UP/hdr/host")" = "$H:$UP"
check curl_no_proxy_headers test "$("${X[@]}" -H 'Proxy-Authorization: Basic eDp5' "http://$H:$UP/hdr/proxy-authorization")" = -
check curl_denied test "$("${X[@]}" -o /dev/null -w '%{http_code}' "http://other.example.test:$UP/")" = 403
check curl_denied_port test "$("${X[@]}" -o /dev/null -w '%{http_code}' "http://$H:1/")" = 403
check denied_logged grep -q "event=forward_denied proxy=egress .*dest=other.example.test:$UP" "$FL_LOG"
# CONNECT opened with faultline's CA: HTTP faults act inside HTTPS, by host
C=("${X[@]}" --cacert "$CA/ca.crt")
check curl_https_opened test "$("${C[@]}" "https://$H:$TLSUP/")" = hello
check curl_https_fault_inside test "$("${C[@]}" -o /dev/null -w '%{http_code}' "https://$H:$TLSUP/err")" = 503
ms=$("${C[@]}" -o /dev/null -w '%{time_total}' "https://$H:$TLSUP/slow" | awk '{printf "%d", $1 * 1000}')
check curl_https_latency_inside within "$ms" 390 3000
check curl_https_sni_to_destination test "$("${C[@]}" "https://$H:$TLSUP/sni")" = "$H"
check leaf_for_connect_host eval '"${C[@]}" -v "https://$H:$TLSUP/" 2>&1 | grep -q "issuer: O=faultline; CN=faultline CA"'
out=$("${X[@]}" "https://$H:$TLSUP/" 2>&1)
check untrusted_without_ca grep -q "unable to get local issuer certificate" <<<"$out"
check https_proxy_env test "$(HTTPS_PROXY="http://127.0.0.1:$P" curl -sS -m 10 --cacert "$CA/ca.crt" "https://$H:$TLSUP/")" = hello
# the destination's certificate is verified (upstream_ca): one that does not chain answers 502 inside
check upstream_unverified_502 test "$("${C[@]}" -o /dev/null -w '%{http_code}' "https://$H:$OTHERUP/")" = 502
check upstream_unverified_logged grep -q "event=tls_handshake_failed proxy=egress .*side=upstream" "$FL_LOG"
# a TLS fault matched by the CONNECT host
out=$("${C[@]}" "https://bad.example.test:$TLSUP/" 2>&1)
check tls_fault_by_connect_host grep -q "unable to get local issuer certificate" <<<"$out"
# several destinations on one client connection (each request waits for the answers before it)
out=$("${X[@]}" "http://$H:$UP/hdr/host" "http://localhost:$UP/hdr/host" "http://127.0.0.1:$UP/hdr/host" "http://$H:$UP/hdr/host" -w ' %{num_connects}\n')
echo "# one connection: $(tr '\n' ' ' <<<"$out")"
check keepalive_destinations test "$(tr -s '\n ' ' ' <<<"$out")" = "$H:$UP 1 localhost:$UP 0 127.0.0.1:$UP 0 $H:$UP 0 "
check evdns_name grep -q "localhost:$UP" <<<"$out"
# plain HTTP inside a CONNECT (undici tunnels http:// URLs too) is read alike
out=$(timeout 10 python3 - "$P" "$H" "$UP" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t = "%s:%s" % (sys.argv[2], sys.argv[3])
s.sendall(("CONNECT %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (t, t)).encode())
print(s.recv(200).split(b"\r\n")[0].decode())
s.sendall(("GET /err HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % t).encode())
b = b""
while True:
    d = s.recv(4096)
    if not d: break
    b += d
print(b.split(b"\r\n")[0].decode())
PY
)
check plain_http_inside_connect test "$(tr '\n' '|' <<<"$out")" = "HTTP/1.1 200 Connection established|HTTP/1.1 503 Service Unavailable|"

# Python's urllib with a ProxyHandler (what requests-like code does with HTTP(S)_PROXY)
out=$(HTTP_PROXY="http://127.0.0.1:$P" HTTPS_PROXY="http://127.0.0.1:$P" timeout 20 python3 - "$CA/ca.crt" "$H" "$UP" "$TLSUP" <<'PY' 2>&1
import ssl, sys, urllib.request, urllib.error
ctx = ssl.create_default_context(cafile=sys.argv[1])
op = urllib.request.build_opener(urllib.request.ProxyHandler(), urllib.request.HTTPSHandler(context=ctx))
for u in ("http://%s:%s/" % (sys.argv[2], sys.argv[3]), "https://%s:%s/" % (sys.argv[2], sys.argv[4]),
          "https://%s:%s/err" % (sys.argv[2], sys.argv[4]), "http://other.example.test:%s/" % sys.argv[3]):
    try:
        r = op.open(u, timeout=10)
        print(r.status, r.read().decode().strip())
    except urllib.error.HTTPError as e:
        print(e.code, "error")
PY
)
echo "# python: $(tr '\n' '|' <<<"$out")"
check python_urllib test "$(tr '\n' '|' <<<"$out")" = "200 hello|200 hello|503 error|403 error|"

# Node: undici's ProxyAgent (installed from npm when it can be) and a CONNECT by hand
if command -v node >/dev/null; then
    nd() { NODE_EXTRA_CA_CERTS="$CA/ca.crt" timeout 20 node tests/peers/fwdclient.js "$@"; }
    check node_connect_by_hand test "$(nd connect "$P" "https://$H:$TLSUP/")" = "ok status=200 body=hello"
    check node_connect_fault test "$(nd connect "$P" "https://$H:$TLSUP/err" | cut -d' ' -f2)" = status=503
    check node_plain test "$(nd plain "$P" "http://$H:$UP/")" = "ok status=200 body=hello"
    mkdir -p "$BUILD/npm-undici"
    UD=$(cd "$BUILD/npm-undici" && pwd)
    if [ ! -f "$UD/node_modules/undici/package.json" ]; then
        mkdir -p "$UD"
        timeout 120 npm install --prefix "$UD" --no-audit --no-fund --loglevel=error undici@7 >"$TT/npm.log" 2>&1 ||
            echo "# npm install undici failed: $(npm_why "$TT/npm.log")"
    fi
    if [ -f "$UD/node_modules/undici/package.json" ]; then
        check node_undici_https test "$(nd undici "$P" "https://$H:$TLSUP/" "$UD")" = "ok status=200 body=hello"
        check node_undici_fault test "$(nd undici "$P" "https://$H:$TLSUP/err" "$UD" | cut -d' ' -f2)" = status=503
        check node_undici_http_in_connect test "$(nd undici "$P" "http://$H:$UP/err" "$UD" | cut -d' ' -f2)" = status=503
        check node_undici_denied grep -q "(403)" <<<"$(nd undici "$P" "https://other.example.test:$TLSUP/" "$UD")"
    else
        pass "node_undici # SKIP undici could not be installed from npm"
    fi
else
    pass "node # SKIP node not installed"
fi

# without tls_ca: a byte tunnel, the server's own certificate end to end; a latency on the
# CONNECT delays the tunnel; the default allow-list is resolve's names
out=$(curl -sS -m 10 -x "http://127.0.0.1:$T" --cacert "$TT/up/cert.pem" -w ' %{time_total}' "https://$H:$TLSUP/")
check tunnel_end_to_end grep -q "^hello" <<<"$out"
check tunnel_connect_delayed within "$(tail -n1 <<<"$out" | awk '{printf "%d", $NF * 1000}')" 590 3000
check tunnel_issuer_is_servers eval 'curl -sS -v -m 10 -x "http://127.0.0.1:$T" --cacert "$TT/up/cert.pem" "https://$H:$TLSUP/" 2>&1 | grep -q "issuer: CN=localhost"'
check tunnel_default_allow test "$(curl -sS -m 10 -x "http://127.0.0.1:$T" -o /dev/null -w '%{http_code}' "http://localhost:$UP/")" = 403
out=$(curl -sS -m 10 -x "http://127.0.0.1:$T" "https://localhost:$TLSUP/" 2>&1)
check tunnel_connect_denied grep -q "CONNECT tunnel failed, response 403" <<<"$out"
# connection-level faults on a tunnel: http_error answers the CONNECT instead of its 200, a byte
# fault (bandwidth, 200 KiB/s) paces the tunnel's bytes (300000 bytes of body: about 1.5 s)
out=$(curl -sS -m 10 -x "http://127.0.0.1:$T" --cacert "$TT/up/cert.pem" "https://err.example.test:$TLSUP/" 2>&1)
check tunnel_connect_http_error grep -q "CONNECT tunnel failed, response 502" <<<"$out"
out=$(curl -sS -m 20 -x "http://127.0.0.1:$BW" --cacert "$TT/up/cert.pem" -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
    "https://$H:$TLSUP/bytes/300000" 2>&1)
echo "# tunnel with bandwidth: $out"
check tunnel_bytes_paced eval 'grep -q "^200 300000 " <<<"$out" && within "$(awk "{printf \"%d\", \$3 * 1000}" <<<"$out")" 1300 8000'
# no allow and no resolve: nothing is allowed
check closed_allows_nothing test "$(curl -sS -m 10 -x "http://127.0.0.1:$N" -o /dev/null -w '%{http_code}' "http://127.0.0.1:$UP/")" = 403

# hostile request lines: answered 400 (or 403), the proxy keeps serving
raw() { printf "$1" | timeout 5 python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
s.sendall(sys.stdin.buffer.read())
print(s.recv(200).split(b"\r\n")[0].decode(errors="replace"))' "$P"; }
check origin_form_400 grep -q " 400 " <<<"$(raw 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')"
check https_url_400 grep -q " 400 " <<<"$(raw "GET https://$H:$TLSUP/ HTTP/1.1\r\nHost: x\r\n\r\n")"
check userinfo_400 grep -q " 400 " <<<"$(raw "GET http://u:p@$H:$UP/ HTTP/1.1\r\nHost: x\r\n\r\n")"
check connect_no_port_400 grep -q " 400 " <<<"$(raw "CONNECT $H HTTP/1.1\r\nHost: x\r\n\r\n")"
check connect_bad_host_400 grep -q " 400 " <<<"$(raw 'CONNECT a..b:443 HTTP/1.1\r\nHost: x\r\n\r\n')"
check connect_numeric_name_400 grep -q " 400 " <<<"$(raw 'CONNECT 0x7f.1:443 HTTP/1.1\r\n\r\n')"
check serving_after_hostile test "$("${X[@]}" "http://$H:$UP/")" = hello

# the record: requests by destination, CONNECT events, the connections' destinations, totals
stop_pid "$FL_PID"
events_kv fl:run:fwd-1:events:egress "$TT/ev.txt"
check rec_request_host grep -q "kind=request .*host=$H:$UP .*status=503" "$TT/ev.txt"
check rec_connect_request grep -q "kind=request .*method=CONNECT .*host=$H:$TLSUP .*status=200" "$TT/ev.txt"
check rec_denied_request grep -q "kind=request .*host=other.example.test:$UP .*status=403" "$TT/ev.txt"
check rec_conn_dest grep -q "kind=conn .*fwd_dest=$H:$TLSUP .*fwd_connect=opened" "$TT/ev.txt"
check rec_conn_tls_sni grep -q "kind=conn .*tls_sni=$H" "$TT/ev.txt"
events_kv fl:run:fwd-1:events:tunnel "$TT/ev2.txt"
check rec_tunnel grep -q "kind=conn .*fwd_connect=tunnel" "$TT/ev2.txt"
PH=fl:run:fwd-1:proto:egress:i1
check rec_totals_denied eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH fwd_denied)" -ge 3 ]'
check rec_totals_opened eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH fwd_opened)" -ge 5 ]'

# profile errors: never an open proxy; no upstream; a forward proxy mints per CONNECT host
bad() { printf '[proxy f]\nlisten = 127.0.0.1:1\nmode = forward\n%s\n' "$1" >"$TT/bad.ini"; "$FL" check "$TT/bad.ini" 2>&1; }
out=$(bad 'allow = *'); check err_open_proxy grep -q "bad.ini:4: allow: an entry that allows every destination would make an open proxy" <<<"$out"
out=$(bad 'allow = 0.0.0.0/0:443'); check err_open_proxy_cidr grep -q "open proxy" <<<"$out"
out=$(bad 'upstream = 127.0.0.1:2'); check err_upstream grep -q "bad.ini:4: upstream: mode = forward takes its destinations from the requests" <<<"$out"
out=$(bad 'resolve = api.test'); check err_resolve grep -q "bad.ini:4: resolve: 'api.test' is not NAME:ADDRESS" <<<"$out"
out=$(bad 'resolve = api.test:not-an-address'); check err_resolve_addr grep -q "is not an IPv4 or IPv6 address" <<<"$out"
out=$(bad "tls_cert = $TT/up/cert.pem"); check err_tls_cert grep -q "mints a leaf per CONNECT host: give tls_ca" <<<"$out"
out=$(bad 'upstream_tls = on'); check err_upstream_tls grep -q "upstream_tls: mode = forward speaks TLS" <<<"$out"
done_tests
