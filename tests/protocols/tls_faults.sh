#!/usr/bin/env bash
# The TLS faults (faults/tls_*.c) with real clients -- curl, openssl s_client, Python's ssl (through
# tests/peers/tlsclient.py) and Node's https (tests/peers/tlsclient.js) -- and what each client
# does about them: tls_alert (the alert reaches the client), tls_hang (a client timeout is the only
# way out; the handshake goes on when the fault's window closes), tls_slow (the handshake takes the
# delay), tls_bad_cert expired / wrong_host / unknown_ca (each client names the defect), tls_cut
# (the body ends early and without close_notify). The record's TLS facts, the counters, and the
# profile errors (a TLS fault on a proxy that does not terminate TLS, cert = expired without a CA).
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash
source tests/protocols/http_lib.bash

CA="$TT/ca"
"$FL" ca init "$CA" --domain example.test --domain 127.0.0.1 >/dev/null 2>&1
mk_cert "$TT/given"
start_httpup UP || { fail httpup_start; done_tests; exit; }
start_redis
P=$(free_port); G=$(free_port); W=$(free_port)
fault() { printf '[fault %s]\nproxy = %s\ntype = %s\nmatch_host = %s.example.test\n%s\n' "$1" "${4:-web}" "$2" "$1" "$3"; }
{
    cat <<EOT
[faultline]
admin = off
redis = $REDIS_URL
run = tlsf-1
instance = i1
[proxy web]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_ca = $CA
tls_handshake_timeout = 1s
[proxy given]
listen = 127.0.0.1:$G
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_cert = $TT/given/cert.pem
tls_key = $TT/given/key.pem
[proxy win]
listen = 127.0.0.1:$W
upstream = 127.0.0.1:$UP
mode = http
tls = terminate
tls_ca = $CA
[fault winhang]
proxy = win
type = tls_hang
duration = 3s
EOT
    fault alert tls_alert "alert = protocol_version"
    fault hang tls_hang ""
    fault slow tls_slow "delay = 1200ms"
    fault exp tls_bad_cert "cert = expired"
    fault wrong tls_bad_cert "cert = wrong_host"
    fault unk tls_bad_cert "cert = unknown_ca"
    fault cut tls_cut "after_bytes = 3000"
    printf '[fault gunk]\nproxy = given\ntype = tls_bad_cert\ncert = unknown_ca\n'
} >"$TT/p.ini"
check profile_ok "$FL" check "$TT/p.ini"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
t_start=$(date +%s%N)

# a client held by the `win` proxy's hang from its start: the handshake goes on when the window
# closes (3 s), and curl (no timeout of its own but -m 10) gets its answer
curl -sS -m 10 --cacert "$CA/ca.crt" -o /dev/null -w '%{http_code} %{time_total}\n' "https://127.0.0.1:$W/" >"$TT/win.out" 2>&1 &
WIN=$!

c() { curl -sS -m "${2:-5}" --cacert "$CA/ca.crt" --resolve "$1.example.test:$P:127.0.0.1" -o /dev/null \
    -w '%{http_code} %{size_download} %{time_total}' "https://$1.example.test:$P/bytes/65536" 2>&1; }
py() { timeout 20 python3 tests/peers/tlsclient.py "$P" "$1.example.test" "$CA/ca.crt" /bytes/65536 --timeout "${2:-3}"; }
nd() { NODE_EXTRA_CA_CERTS="$CA/ca.crt" timeout 20 node tests/peers/tlsclient.js "$P" "$1.example.test" /bytes/65536 verify "${2:-3000}"; }
HAVE_NODE=0; command -v node >/dev/null && HAVE_NODE=1
node_check() { if [ $HAVE_NODE = 1 ]; then check "$@"; else pass "$1 # SKIP node not installed"; fi; }

# no fault for this name: served as usual
check curl_no_fault grep -q '^200 65536' <<<"$(c ok)"

# tls_alert: every client reports the alert
out=$(c alert); echo "# curl alert: $out"
check curl_alert grep -q "alert protocol version" <<<"$out"
out=$(openssl s_client -connect 127.0.0.1:$P -servername alert.example.test </dev/null 2>&1)
check openssl_alert grep -q "alert protocol version" <<<"$out"
out=$(py alert); echo "# python alert: $out"
check python_alert grep -q "TLSV1_ALERT_PROTOCOL_VERSION" <<<"$out"
out=$(nd alert); echo "# node alert: $out"
node_check node_alert grep -q "alert protocol version" <<<"$out"

# tls_hang: the ClientHello is never answered, even past tls_handshake_timeout (1 s): only the
# clients' own timeouts end it
out=$(c hang 2); echo "# curl hang: $out"
check curl_hang_timed_out eval 'grep -q "timed out" <<<"$out" && within "$(tail -n1 <<<"$out" | awk "{print \$3 * 1000}")" 1900 2600'
out=$(py hang 2); echo "# python hang: $out"
check python_hang_timed_out grep -q "^error TimeoutError .*handshake operation timed out" <<<"$out"
check hang_outlives_handshake_timeout within "$(sed 's/.*ms=\([0-9]*\).*/\1/' <<<"$out")" 1900 2600
out=$(nd hang 2000); echo "# node hang: $out"
node_check node_hang_timed_out grep -q "^error timeout" <<<"$out"

# tls_slow: the handshake takes the delay (1.2 s), then everything works
out=$(c slow); echo "# curl slow: $out"
check curl_slow eval 'grep -q "^200 65536" <<<"$out" && within "$(awk "{print \$3 * 1000}" <<<"$out")" 1150 3000'
out=$(py slow); echo "# python slow: $out"
check python_slow eval 'grep -q "^ok status=200 bytes=65536" <<<"$out" && within "$(sed "s/.*ms=//" <<<"$out")" 1150 3000'
out=$(nd slow); echo "# node slow: $out"
node_check node_slow grep -q "^ok status=200 bytes=65536" <<<"$out"

# tls_bad_cert: each verifying client names the defect
out=$(c exp); echo "# curl expired: $out"
check curl_expired grep -q "certificate has expired" <<<"$out"
out=$(openssl s_client -connect 127.0.0.1:$P -servername exp.example.test -CAfile "$CA/ca.crt" </dev/null 2>&1)
check openssl_expired grep -q "Verify return code: 10 (certificate has expired)" <<<"$out"
out=$(py exp); echo "# python expired: $out"
check python_expired grep -q "certificate has expired" <<<"$out"
out=$(nd exp); echo "# node expired: $out"
node_check node_expired grep -q "^error CERT_HAS_EXPIRED" <<<"$out"
out=$(c wrong); echo "# curl wrong_host: $out"
check curl_wrong_host grep -q "no alternative certificate subject name matches" <<<"$out"
out=$(openssl s_client -connect 127.0.0.1:$P -servername wrong.example.test -CAfile "$CA/ca.crt" \
    -verify_hostname wrong.example.test </dev/null 2>&1)
check openssl_wrong_host grep -q "Verify return code: 62 (hostname mismatch)" <<<"$out"
check wrong_host_name_in_domain eval 'openssl s_client -connect 127.0.0.1:$P -servername wrong.example.test </dev/null 2>/dev/null | openssl x509 -noout -ext subjectAltName | grep -q "DNS:wrong-host.wrong.example.test"'
out=$(py wrong); echo "# python wrong_host: $out"
check python_wrong_host grep -q "Hostname mismatch" <<<"$out"
out=$(nd wrong); echo "# node wrong_host: $out"
node_check node_wrong_host grep -q "^error ERR_TLS_CERT_ALTNAME_INVALID" <<<"$out"
out=$(c unk); echo "# curl unknown_ca: $out"
check curl_unknown_ca grep -q "unable to get local issuer certificate" <<<"$out"
out=$(openssl s_client -connect 127.0.0.1:$P -servername unk.example.test -CAfile "$CA/ca.crt" </dev/null 2>&1)
check openssl_unknown_ca eval 'grep -q "unable to get local issuer certificate" <<<"$out" && grep -q "issuer=.*unknown CA (tls_bad_cert)" <<<"$out"'
out=$(py unk); echo "# python unknown_ca: $out"
check python_unknown_ca grep -q "unable to get local issuer certificate" <<<"$out"
out=$(nd unk); echo "# node unknown_ca: $out"
node_check node_unknown_ca grep -q "^error UNABLE_TO_VERIFY_LEAF_SIGNATURE" <<<"$out"
# a verifying client that trusts the given certificate: unknown_ca works on a tls_cert proxy too
out=$(curl -sS -m 5 --cacert "$TT/given/cert.pem" "https://localhost:$G/" 2>&1)
check given_cert_unknown_ca grep -q "unable to get local issuer certificate" <<<"$out"
# a client that does not verify goes on, whatever the certificate
check noverify_goes_on grep -q "^ok status=200" <<<"$(timeout 10 python3 tests/peers/tlsclient.py "$P" exp.example.test "$CA/ca.crt" / --noverify --timeout 3)"
# a faulted handshake is never a resumed one (resumption would skip the certificate)
(sleep 0.5) | openssl s_client -connect 127.0.0.1:$P -servername ok.example.test -CAfile "$CA/ca.crt" -sess_out "$TT/sess" >/dev/null 2>&1
out=$( (sleep 0.5) | openssl s_client -connect 127.0.0.1:$P -servername exp.example.test -CAfile "$CA/ca.crt" -sess_in "$TT/sess" 2>&1)
check bad_cert_not_resumed eval 'grep -q "^New, TLS" <<<"$out" && grep -q "certificate has expired" <<<"$out"'

# tls_cut: 3000 bytes of plaintext (head included), then a FIN without close_notify
out=$(c cut); echo "# curl cut: $out"
check curl_cut eval 'grep -q "transfer closed with" <<<"$out" && grep -q "^200 2[0-9][0-9][0-9] " <<<"${out##*$'\n'}"'
out=$( (printf 'GET /bytes/65536 HTTP/1.1\r\nHost: cut.example.test\r\n\r\n'; sleep 1) |
    openssl s_client -connect 127.0.0.1:$P -servername cut.example.test -CAfile "$CA/ca.crt" -quiet 2>&1 >"$TT/cut.body")
check openssl_cut_unexpected_eof grep -q "unexpected eof while reading" <<<"$out"
check openssl_cut_3000_bytes test "$(wc -c <"$TT/cut.body")" = 3000
out=$(py cut); echo "# python cut: $out"
check python_cut grep -q "^error IncompleteRead" <<<"$out"
out=$(nd cut); echo "# node cut: $out"
node_check node_cut grep -q "^error aborted" <<<"$out"

# the held handshake of the `win` proxy went on when its window closed
wait $WIN
out=$(cat "$TT/win.out"); echo "# curl through win: $out"
check window_end_releases eval 'grep -q "^200 " <<<"$out" && within "$(awk "{print \$2 * 1000}" <<<"$out")" 1500 6000'

# the counters and the log
check log_alert grep -q 'event=tls_handshake_failed proxy=web .*alert=protocol_version' "$FL_LOG"
check log_expired grep -q 'event=tls_handshake_failed proxy=web .*alert=certificate_expired' "$FL_LOG"
stop_pid "$FL_PID"
events_kv fl:run:tlsf-1:events:web "$TT/ev.txt"
ev() { grep " $1=$2\( \|$\)" "$TT/ev.txt" | head -n1; }
e=$(ev tls_fault hang); echo "# hang: $e"
check rec_hang_held eval '[ -n "$(kv "$e" hang_ms)" ] && [ -n "$(kv "$e" gave_up_ms)" ] && [ "$(kv "$e" closed_by)" = client ]'
e=$(ev tls_fault slow); echo "# slow: $e"
check rec_slow_hold_ended eval '[ -n "$(kv "$e" hang_end_ms)" ] && within "$(kv "$e" tls_handshake_ms)" 1150 3000'
e=$(ev tls_bad_cert expired); echo "# expired: $e"
check rec_bad_cert eval '[ "$(kv "$e" tls_fault)" = bad_cert ] && [ "$(kv "$e" tls_alert)" = certificate_expired ] && [ "$(kv "$e" tls_alert_by)" = peer ]'
e=$(ev tls_bad_cert wrong_host); echo "# wrong_host: $e"
check rec_wrong_host_closed_no_data eval '[ "$(kv "$e" closed_by)" = client ] && [ "$(kv "$e" tls_app_bytes)" = 0 ]'
e=$(ev tls_fault alert); echo "# alert: $e"
check rec_alert_by_faultline eval '[ "$(kv "$e" tls_alert)" = protocol_version ] && [ "$(kv "$e" tls_alert_by)" = faultline ] && [ "$(kv "$e" fault)" = alert ]'
e=$(ev tls_fault cut); echo "# cut: $e"
check rec_cut eval '[ "$(kv "$e" closed_by)" = fault ] && [ "$(kv "$e" tls_app_bytes)" -gt 0 ]'
FH=fl:run:tlsf-1:fault
check rec_fault_counted eval '[ "$(redis-cli -s $REDIS_SOCK --raw hget $FH:exp:i1 conns_affected)" -ge 4 ]'

# profile errors: a TLS fault where TLS is not terminated; expired without a CA; a bad alert;
# request matching on a TLS fault
cat >"$TT/bad1.ini" <<EOT
[proxy plain]
listen = 127.0.0.1:1
upstream = 127.0.0.1:2
mode = http
[fault h]
proxy = plain
type = tls_hang
EOT
out=$("$FL" check "$TT/bad1.ini" 2>&1); rc=$?
check err_needs_terminate eval '[ $rc = 2 ] && grep -q "bad1.ini:7: \[fault h\] type .tls_hang. acts on the TLS a proxy serves: .plain. needs tls = terminate" <<<"$out"'
sed "s#^\[fault gunk\]#[fault gexp]\nproxy = given\ntype = tls_bad_cert\ncert = expired\n[fault gunk]#" "$TT/p.ini" >"$TT/bad2.ini"
out=$("$FL" check "$TT/bad2.ini" 2>&1); rc=$?
check err_expired_needs_ca eval '[ $rc = 2 ] && grep -q "cert = expired needs a proxy with tls_ca" <<<"$out"'
printf '[proxy web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\ntls = terminate\ntls_ca = %s\n[fault a]\nproxy = web\ntype = tls_alert\nalert = teapot\n' "$CA" >"$TT/bad3.ini"
out=$("$FL" check "$TT/bad3.ini" 2>&1); rc=$?
check err_alert_lists eval '[ $rc = 2 ] && grep -q "bad3.ini:9: .*alert: .teapot. is not a TLS alert (.*handshake_failure.*unknown_ca" <<<"$out"'
printf '[proxy web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\ntls = terminate\ntls_ca = %s\n[fault a]\nproxy = web\ntype = tls_hang\nmatch_path = /x\n' "$CA" >"$TT/bad4.ini"
out=$("$FL" check "$TT/bad4.ini" 2>&1); rc=$?
check err_match_host_only eval '[ $rc = 2 ] && grep -q "tls_hang takes match_host only" <<<"$out"'
printf '[proxy web]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\ntls = terminate\ntls_ca = %s\n[fault a]\nproxy = web\ntype = tls_slow\n' "$CA" >"$TT/bad5.ini"
out=$("$FL" check "$TT/bad5.ini" 2>&1); rc=$?
check err_slow_needs_delay eval '[ $rc = 2 ] && grep -q "delay: required" <<<"$out"'
done_tests
