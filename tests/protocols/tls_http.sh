#!/usr/bin/env bash
# TLS under mode = http, with real clients: faultline's CA minting per SNI (name-constrained),
# terminate + originate to an HTTPS upstream (Python's ssl), curl, openssl s_client (ALPN, session
# resumption on TLS 1.3 and 1.2), node https, python ssl; HTTP faults acting inside HTTPS; hostile
# bytes instead of a ClientHello (closed and counted, nothing else affected), the handshake
# timeout, an upstream that fails verification (502), upstream_verify = off (a warning), and the
# TLS facts in the record.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

CA="$TT/ca"
out=$("$FL" ca init "$CA" --domain example.test --domain 127.0.0.1 2>&1)
check ca_init test -s "$CA/ca.crt"
check ca_key_0600 test "$(stat -c %a "$CA/ca.key")" = 600
check ca_cert_0644 test "$(stat -c %a "$CA/ca.crt")" = 644
check ca_name_constraints eval 'openssl x509 -in "$CA/ca.crt" -noout -text | grep -A3 "Name Constraints" | grep -q "DNS:example.test"'
out=$("$FL" ca init "$CA" 2>&1); rc=$?
check ca_init_refuses_overwrite eval '[ $rc -ne 0 ] && grep -q "already holds a CA" <<<"$out"'
check ca_key_not_printed bash -c "! grep -q 'PRIVATE KEY' <<<'$out'"

mk_cert "$TT/up"
mk_cert "$TT/up2"
start_tlsup UP "$TT/up/cert.pem" "$TT/up/key.pem" || { fail tlsup_start; done_tests; exit; }
start_tlsup UP2 "$TT/up2/cert.pem" "$TT/up2/key.pem" || { fail tlsup2_start; done_tests; exit; }
start_redis
P=$(free_port); Q=$(free_port); V=$(free_port); T=$(free_port); SO=$(free_port); SB=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
redis = $REDIS_URL
run = tls-1
instance = i1
[proxy web]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_ca = $CA
upstream_tls = on
upstream_ca = $TT/up/cert.pem
upstream_sni = localhost
[proxy wrongca]
listen = 127.0.0.1:$Q
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_cert = $TT/up/cert.pem
tls_key = $TT/up/key.pem
upstream_tls = on
upstream_ca = $CA/ca.crt
[proxy noverify]
listen = 127.0.0.1:$V
upstream = 127.0.0.1:$UP
mode = http
upstream_tls = on
upstream_verify = off
[proxy sysok]
listen = 127.0.0.1:$SO
upstream = 127.0.0.1:$UP
mode = http
upstream_tls = on
upstream_sni = localhost
[proxy sysbad]
listen = 127.0.0.1:$SB
upstream = 127.0.0.1:$UP2
mode = http
upstream_tls = on
upstream_sni = localhost
[proxy slowhs]
listen = 127.0.0.1:$T
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_ca = $CA
tls_handshake_timeout = 1s
upstream_tls = on
upstream_ca = $TT/up/cert.pem
[fault err]
proxy = web
type = http_error
status = 503
match_path = /err*
[fault slow]
proxy = web
type = latency
delay = 400ms
match_path = /slow*
[fault trunc]
proxy = web
type = truncate
after_bytes = 1000
match_path = /bytes/100001
[fault sbody]
proxy = web
type = slow_body
rate = 100KiB
match_path = /bytes/100002
[fault flip]
proxy = web
type = corrupt
per_byte = 1
match_path = /bytes/100003
[fault rst]
proxy = web
type = reset
match_path = /rst
[fault hold]
proxy = web
type = hang
match_path = /hold
EOT
# the system store of this faultline is up's certificate alone (SSL_CERT_FILE: OpenSSL's default
# paths): sysok and sysbad, without upstream_ca, verify against it
SSL_CERT_FILE="$TT/up/cert.pem" start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
H="api.example.test"
C=(curl -sS -m 10 --cacert "$CA/ca.crt" --resolve "$H:$P:127.0.0.1")

# curl: a leaf minted for the SNI, and for the address when there is none (IP SAN)
check curl_sni_minted test "$("${C[@]}" "https://$H:$P/")" = hello
check curl_ip_san test "$(curl -sS -m 10 --cacert "$CA/ca.crt" "https://127.0.0.1:$P/")" = hello
check curl_big_body test "$("${C[@]}" "https://$H:$P/bytes/3000000" | wc -c)" = 3000000
check upstream_got_sni test "$("${C[@]}" "https://$H:$P/sni")" = localhost
check leaf_san_and_issuer eval 'openssl s_client -connect 127.0.0.1:$P -servername $H </dev/null 2>/dev/null | openssl x509 -noout -text | grep -q "DNS:api.example.test"'
days=$(openssl s_client -connect 127.0.0.1:$P -servername $H </dev/null 2>/dev/null | openssl x509 -noout -enddate | sed 's/notAfter=//')
check leaf_short_validity eval '[ $(( ($(date -d "$days" +%s) - $(date +%s)) / 86400 )) -le 3 ]'
# the leaf is cached by name: a second handshake for the same SNI gets the same certificate
fpl() { openssl s_client -connect 127.0.0.1:$P -servername "$1" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
f1=$(fpl $H); f2=$(fpl $H)
check leaf_cached eval '[ -n "$f1" ] && [ "$f1" = "$f2" ]'
# outside the CA's name constraints: refused (unrecognized_name), counted
out=$(curl -sS -m 10 --cacert "$CA/ca.crt" --resolve "other.test:$P:127.0.0.1" "https://other.test:$P/" 2>&1)
check name_constraints_refused grep -q "unrecognized name" <<<"$out"
# HTTP faults act inside HTTPS
check http_error_inside test "$("${C[@]}" -o /dev/null -w '%{http_code}' "https://$H:$P/err")" = 503
ms=$("${C[@]}" -o /dev/null -w '%{time_total}' "https://$H:$P/slow" | awk '{printf "%d", $1 * 1000}')
check latency_inside within "$ms" 390 3000
# the other HTTP fault types act inside HTTPS too: truncate (1000 bytes of body, then the close),
# slow_body (100002 bytes at 100 KiB/s: about 1 s), corrupt (every body byte changed, the length
# kept), reset (the connection reset, no answer), hang (only the client's timeout ends it)
out=$("${C[@]}" -o /dev/null -w '%{size_download}' "https://$H:$P/bytes/100001" 2>&1); rc=$?
check truncate_inside eval '[ $rc != 0 ] && grep -q "1000$" <<<"$out"'
ms=$("${C[@]}" -o /dev/null -w '%{time_total}' "https://$H:$P/bytes/100002" | awk '{printf "%d", $1 * 1000}')
check slow_body_inside within "$ms" 850 6000
out=$("${C[@]}" "https://$H:$P/bytes/100003" | tr -d x | wc -c)
check corrupt_inside test "$out" = 100003
out=$("${C[@]}" "https://$H:$P/rst" 2>&1); rc=$?
check reset_inside eval '[ $rc = 56 ] || [ $rc = 35 ] || [ $rc = 52 ]'
out=$(curl -sS -m 1 --cacert "$CA/ca.crt" --resolve "$H:$P:127.0.0.1" "https://$H:$P/hold" 2>&1); rc=$?
check hang_inside eval '[ $rc = 28 ]'
# keep-alive: several requests on one TLS connection
out=$("${C[@]}" "https://$H:$P/" "https://$H:$P/" "https://$H:$P/" -w '%{num_connects}\n')
check keepalive_one_connect test "$(grep -c hello <<<"$out"):$(grep -c '^0$' <<<"$out")" = 3:2

# openssl s_client: ALPN, resumption (TLS 1.3 tickets, TLS 1.2)
out=$(openssl s_client -connect 127.0.0.1:$P -servername $H -CAfile "$CA/ca.crt" -alpn h2,http/1.1 </dev/null 2>&1)
check alpn_http11 grep -q "ALPN protocol: http/1.1" <<<"$out"
check verify_ok grep -q "Verify return code: 0 (ok)" <<<"$out"
(sleep 0.5) | openssl s_client -connect 127.0.0.1:$P -servername $H -CAfile "$CA/ca.crt" -sess_out "$TT/s13" >/dev/null 2>&1
out=$( (sleep 0.5) | openssl s_client -connect 127.0.0.1:$P -servername $H -CAfile "$CA/ca.crt" -sess_in "$TT/s13" 2>&1)
check resumed_tls13 grep -q "Reused, TLSv1.3" <<<"$out"
openssl s_client -connect 127.0.0.1:$P -tls1_2 -servername $H -CAfile "$CA/ca.crt" -sess_out "$TT/s12" </dev/null >/dev/null 2>&1
out=$(openssl s_client -connect 127.0.0.1:$P -tls1_2 -servername $H -CAfile "$CA/ca.crt" -sess_in "$TT/s12" </dev/null 2>&1)
check resumed_tls12 grep -q "Reused, TLSv1.2" <<<"$out"

# node https (NODE_EXTRA_CA_CERTS) and python ssl (cafile), with a fault acting
if command -v node >/dev/null; then
    out=$(NODE_EXTRA_CA_CERTS="$CA/ca.crt" timeout 20 node -e '
const https = require("https");
const get = (p) => new Promise((ok, ko) => https.get({host: "127.0.0.1", port: '"$P"', servername: "'"$H"'", path: p,
  headers: {host: "'"$H"'"}}, (r) => { let b = ""; r.on("data", (d) => b += d); r.on("end", () => ok(r.statusCode + ":" + b.trim())); }).on("error", ko));
(async () => { console.log(await get("/")); console.log(await get("/err")); })().catch((e) => { console.log("error " + e.message); });' 2>&1)
    check node_https grep -qx "200:hello" <<<"$out"
    check node_http_error_inside grep -q "^503:" <<<"$out"
else
    pass "node_https # SKIP node not installed"
fi
out=$(timeout 20 python3 - "$P" "$CA/ca.crt" "$H" <<'PY' 2>&1
import http.client, ssl, sys
ctx = ssl.create_default_context(cafile=sys.argv[2])
c = http.client.HTTPSConnection("127.0.0.1", int(sys.argv[1]), context=ctx, timeout=10)
c.sock = None
import socket
raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c.sock = ctx.wrap_socket(raw, server_hostname=sys.argv[3])
for p in ("/", "/err"):
    c.request("GET", p, headers={"Host": sys.argv[3]})
    r = c.getresponse()
    print(r.status, r.read().decode().strip(), c.sock.version())
PY
)
check python_ssl grep -q "^200 hello TLSv1.3" <<<"$out"
check python_http_error_inside grep -q "^503 " <<<"$out"

# hostile bytes: garbage, a truncated handshake, an oversized SNI, a bad name -- each closed and
# counted, the listener keeps serving
n0=$(tls_failures "$FL_LOG" client)
for a in garbage truncated "sni 300" "sni 3000"; do
    out=$(timeout 10 python3 tests/peers/tlsraw.py ${a%% *} "$P" ${a#* } 2>&1)
    check "hostile_${a// /_}_closed" grep -q "result=closed" <<<"$out"
done
out=$(openssl s_client -connect 127.0.0.1:$P -servername 'bad_name!' </dev/null 2>&1)
check bad_sni_refused grep -qi "unrecognized name" <<<"$out"
check hostile_counted wait_for 5 eval '[ $(( $(tls_failures "$FL_LOG" client) - n0 )) -ge 5 ]'
check serving_after_hostile test "$("${C[@]}" "https://$H:$P/")" = hello
# the handshake timeout: a client that never sends its ClientHello is closed after 1 s
out=$(timeout 10 python3 tests/peers/tlsraw.py silent "$T")
ms=$(sed 's/.*ms=//' <<<"$out")
check handshake_timeout eval 'grep -q result=closed <<<"$out" && within $ms 900 2500'
check handshake_timeout_logged grep -q 'proxy=slowhs .*error="handshake timeout"' "$FL_LOG"
# upstream verification: the wrong CA fails the upstream handshake -> 502, counted
check verify_fails_502 test "$(curl -sS -m 10 -k -o /dev/null -w '%{http_code}' "https://127.0.0.1:$Q/")" = 502
check verify_fail_logged grep -q 'event=tls_handshake_failed proxy=wrongca .*side=upstream' "$FL_LOG"
# upstream_verify = off: explicit, logged at warn, works
check verify_off_warned grep -q 'level=warn event=upstream_verify_off proxy=noverify' "$FL_LOG"
check verify_off_works test "$(curl -sS -m 10 "http://127.0.0.1:$V/")" = hello
# verification is on by default, against the system store: up's certificate is in it (200), up2's
# is not (502, the upstream's failure)
check system_store_verified test "$(curl -sS -m 10 "http://127.0.0.1:$SO/sni")" = localhost
check system_store_refuses_502 test "$(curl -sS -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SB/")" = 502
check system_store_refusal_logged grep -q 'event=tls_handshake_failed proxy=sysbad .*side=upstream' "$FL_LOG"

# the record: per connection version, cipher, SNI, ALPN, handshake time; failures by alert
stop_pid "$FL_PID"
redis-cli -s "$REDIS_SOCK" --raw xrange fl:run:tls-1:events:web - + >"$TT/events"
check rec_tls_version grep -qx "TLSv1.3" "$TT/events"
check rec_tls_sni grep -qx "$H" "$TT/events"
check rec_tls_alpn eval 'grep -x -A1 tls_alpn "$TT/events" | grep -qx http/1.1'
check rec_tls_cipher grep -qx "tls_cipher" "$TT/events"
check rec_tls_handshake_ms grep -qx "tls_handshake_ms" "$TT/events"
check rec_up_tls_version grep -qx "up_tls_version" "$TT/events"
check rec_tls_error eval 'grep -x -A1 tls_error "$TT/events" | grep -q "name constraints"'
check rec_tls_alert eval 'grep -x -A1 tls_alert "$TT/events" | grep -qx unrecognized_name'
PH=fl:run:tls-1:proto:web:i1
check rec_totals_handshakes eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH tls_handshakes)" -ge 8 ]'
check rec_totals_failures eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH tls_failures)" -ge 6 ]'
check rec_totals_by_alert eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH tls_failures_unrecognized_name)" -ge 1 ]'
check rec_totals_resumed eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH tls_resumed)" -ge 2 ]'
check rec_leaves_cached eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $PH tls_certs_minted)" = 2 ]'   # api.example.test, 127.0.0.1
# the CA key is nowhere in the record or the log: neither its PEM header nor a line of its body
# (DUMP compresses values unless rdbcompression is off; the SNI in the dump shows it is readable)
KEYB=$(grep -v -- '-----' "$CA/ca.key" | tail -n1)
redis-cli -s "$REDIS_SOCK" config set rdbcompression no >/dev/null
redis-cli -s "$REDIS_SOCK" --raw keys '*' | xargs -r -n1 redis-cli -s "$REDIS_SOCK" --raw dump >"$TT/dump" 2>/dev/null
check record_dump_readable grep -aqF "$H" "$TT/dump"
check ca_key_not_recorded eval '[ ${#KEYB} -ge 16 ] && ! grep -aqF -e "PRIVATE KEY" -e "$KEYB" "$TT/dump"'
check ca_key_not_logged eval '! grep -qF -e "PRIVATE KEY" -e "$KEYB" "$FL_LOG"'
done_tests
