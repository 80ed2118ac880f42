#!/usr/bin/env bash
# TLS under mode = redis: redis-cli --tls --cacert (faultline's CA) through faultline to Debian's
# redis-server listening with tls-port; redis_error and a per-command latency act inside TLS; a
# plain client reaches the TLS-only server through upstream_tls alone; a client certificate
# (upstream_cert) for a server that requires one (tls-auth-clients yes).
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

CA="$TT/ca"
"$FL" ca init "$CA" >/dev/null
mk_cert "$TT/srv"
mk_cert "$TT/client" "DNS:client"
cat "$TT/srv/cert.pem" "$TT/client/cert.pem" >"$TT/trust.pem"
RP=$(free_port); RM=$(free_port)
redis-server --port 0 --tls-port "$RP" --tls-cert-file "$TT/srv/cert.pem" --tls-key-file "$TT/srv/key.pem" \
    --tls-ca-cert-file "$TT/trust.pem" --tls-auth-clients no --save '' --appendonly no --dir "$TT" \
    --daemonize no --loglevel warning >"$TT/redis1.log" 2>&1 &
_PIDS+=($!)
redis-server --port 0 --tls-port "$RM" --tls-cert-file "$TT/srv/cert.pem" --tls-key-file "$TT/srv/key.pem" \
    --tls-ca-cert-file "$TT/trust.pem" --tls-auth-clients yes --save '' --appendonly no --dir "$TT" \
    --daemonize no --loglevel warning >"$TT/redis2.log" 2>&1 &
_PIDS+=($!)
wait_port "$RP" || { fail redis_tls_start "$(cat "$TT/redis1.log")"; done_tests; exit; }
wait_port "$RM"
P=$(free_port); Q=$(free_port); M=$(free_port); MN=$(free_port); A=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$A
[proxy cache]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$RP
mode = redis
tls = terminate
tls_ca = $CA
upstream_tls = on
upstream_ca = $TT/srv/cert.pem
upstream_sni = localhost
[proxy plainclient]
listen = 127.0.0.1:$Q
upstream = 127.0.0.1:$RP
mode = redis
upstream_tls = on
upstream_ca = $TT/srv/cert.pem
[proxy mtls]
listen = 127.0.0.1:$M
upstream = 127.0.0.1:$RM
mode = redis
upstream_tls = on
upstream_ca = $TT/srv/cert.pem
upstream_cert = $TT/client/cert.pem
upstream_key = $TT/client/key.pem
[proxy nocert]
listen = 127.0.0.1:$MN
upstream = 127.0.0.1:$RM
mode = redis
upstream_tls = on
upstream_ca = $TT/srv/cert.pem
[fault ro]
proxy = cache
type = redis_error
error = READONLY
match_command = set
match_key = ro:*
[fault slow]
proxy = cache
type = redis_latency
delay = 400ms
match_key = slow:*
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
R=(timeout 10 redis-cli -h 127.0.0.1 -p "$P" --tls --cacert "$CA/ca.crt")
check redis_cli_tls_set test "$("${R[@]}" set k v)" = OK
check redis_cli_tls_get test "$("${R[@]}" get k)" = v
check redis_error_inside_tls grep -q "READONLY" <<<"$("${R[@]}" set ro:1 x 2>&1)"
t0=$(date +%s%N)
out=$("${R[@]}" get slow:1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check latency_inside_tls within "$ms" 390 5000
# a pipeline of 2000 commands, then a large value both ways
out=$(for i in $(seq 1 2000); do printf 'SET p:%d %d\r\n' "$i" "$i"; done | "${R[@]}" --pipe 2>&1)
check pipe_2000 grep -q "errors: 0, replies: 2000" <<<"$out"
head -c 3000000 /dev/zero | tr '\0' x >"$TT/big"
"${R[@]}" -x set big <"$TT/big" >/dev/null
check big_value test "$("${R[@]}" strlen big)" = 3000000
check plain_client_tls_server test "$(timeout 10 redis-cli -h 127.0.0.1 -p "$Q" get k)" = v
check mtls_client_cert test "$(timeout 10 redis-cli -h 127.0.0.1 -p "$M" ping)" = PONG
out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$MN" ping 2>&1)
check mtls_without_cert_fails eval '[ "$out" != PONG ]'
# /stats: the TLS counters of each side
st=$(curl -s -m 5 "http://127.0.0.1:$A/stats")
check stats_tls_client eval '[ "$(jq ".proxies.cache.tls.client.handshakes" <<<"$st")" -ge 5 ]'
check stats_tls_upstream eval '[ "$(jq ".proxies.cache.tls.upstream.handshakes" <<<"$st")" -ge 5 ]'
# the CA key never reaches the admin API: not in any GET answer, not in the error of a profile
# posted with the key given as a certificate (neither its PEM header nor a line of its body)
KEYB=$(grep -v -- '-----' "$CA/ca.key" | tail -n1)
api=$(for e in /stats /proxies /faults /metrics /healthz /audit /verdicts; do curl -s -m 5 "http://127.0.0.1:$A$e"; echo; done
    { printf '[proxy k]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\ntls = terminate\ntls_cert = %s\ntls_key = %s\n' \
        "$(free_port)" "$RP" "$CA/ca.key" "$CA/ca.key"; } | curl -s -m 5 -XPOST "http://127.0.0.1:$A/profile" --data-binary @-)
check api_answers_checked eval 'grep -q "\"cache\"" <<<"$api" && grep -q "ca.key" <<<"$api"'
check ca_key_not_in_api eval '[ ${#KEYB} -ge 16 ] && ! grep -qF -e "PRIVATE KEY" -e "$KEYB" <<<"$api"'
# (TLS 1.3: the server refuses the missing client certificate after the client's handshake is done,
# with an alert the next read gets: the log line may come a moment after redis-cli has given up)
check mtls_refusal_logged wait_for 5 eval 'grep "proxy=nocert" "$FL_LOG" | grep -q "certificate required"'
check redis_verbatim_no_errors bash -c "! grep -q 'level=error' '$FL_LOG'"
done_tests
