#!/usr/bin/env bash
# Admin API safety: with admin_token every request needs the bearer token (401 otherwise, and
# nothing changes); a non-loopback admin address without a token is refused at start (exit 2);
# admin = off opens no admin port; SIGUSR1 stops every fault.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/t.ini" "admin_token = s3cret-token" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/t.ini" || { fail start "faultline did not start"; exit 1; }
check admin_log_says_bearer grep -q 'event=admin_listening .*auth=bearer' "$FL_LOG"
for ep in /version /proxies /faults /stats /metrics /healthz; do
    req GET "$ep"
    expect "no_token_401_$ep" 401 '.status == 401'
done
CODE=$(curl -s -m 5 -o /dev/null -D "$TT/h" -w '%{http_code}' "$A/faults")
check www_authenticate_header grep -qi '^www-authenticate: Bearer' "$TT/h"
req POST /faults '{"name":"x","type":"latency","proxy":"db","delay":"1ms"}'
expect no_token_post_401 401
CURL_AUTH=(-H "Authorization: Bearer wrong-token")
req GET /faults
expect wrong_token_401 401
CURL_AUTH=(-H "Authorization: Bearer s3cret-token-and-more")
req GET /faults
expect longer_token_401 401
CURL_AUTH=(-H "Authorization: Basic czNjcmV0LXRva2Vu")
req GET /faults
expect basic_auth_401 401
CURL_AUTH=(-H "Authorization: Bearer s3cret-token")
req GET /faults
expect refused_requests_changed_nothing 200 'length == 0'
req POST /faults '{"name":"x","type":"latency","proxy":"db","delay":"600ms"}'
expect right_token_201 201
req POST /proxies/db/toxics '{"name":"t","type":"latency","attributes":{"latency":10},"stream":"upstream"}'
expect right_token_toxiproxy_face 200

# SIGUSR1: every fault stops at once
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check fault_acting_before_usr1 within "$(kv "$out" ms)" 580 4000
kill -USR1 "$FL_PID"
wait_for 5 grep -q 'event=kill ' "$FL_LOG"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check usr1_stops_faults within "$(kv "$out" ms)" 0 400
req GET /faults
expect usr1_faults_listed_killed 200 '[.[] | .state] == ["killed","killed"]'
stop_pid "$FL_PID"

# non-loopback admin without a token: refused at start, exit 2, nothing listening
printf '[faultline]\nadmin = 0.0.0.0:%s\n' "$(free_port)" >"$TT/open.ini"
"$FL" serve "$TT/open.ini" >/dev/null 2>"$TT/open.err" &
P=$!
wait_for 5 bash -c "! kill -0 $P 2>/dev/null"
wait "$P"; rc=$?
check non_loopback_without_token_exit_2 [ "$rc" = 2 ]
check non_loopback_error_says_why grep -q 'admin: 0.0.0.0:.* is not a loopback address and no admin_token' "$TT/open.err"
printf '[faultline]\nadmin = [::]:%s\n' "$(free_port)" >"$TT/open6.ini"
"$FL" serve "$TT/open6.ini" >/dev/null 2>&1 &
P=$!
wait_for 5 bash -c "! kill -0 $P 2>/dev/null"
wait "$P"; rc=$?
check non_loopback_v6_without_token_exit_2 [ "$rc" = 2 ]

# non-loopback with a token: allowed (bound on all interfaces, reached here over loopback)
AP=$(free_port)
printf '[faultline]\nadmin = 0.0.0.0:%s\nadmin_token = tok\n' "$AP" >"$TT/tok.ini"
"$FL" serve "$TT/tok.ini" 2>"$TT/tok.log" &
P=$!; _PIDS+=($P)
check non_loopback_with_token_starts wait_port "$AP" 10
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer tok' "http://127.0.0.1:$AP/healthz")
check non_loopback_with_token_serves [ "$CODE" = 200 ]
stop_pid "$P"

# admin = off: no admin port
AP=$(free_port)
printf '[faultline]\nadmin = off\n[proxy a]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$(free_port)" "$ECHO" >"$TT/off.ini"
start_fl "$TT/off.ini" || fail off_start "did not start"
check admin_off_no_admin_log bash -c "! grep -q admin_listening '$FL_LOG'"
stop_pid "$FL_PID"

# admin on a unix socket
printf '[faultline]\nadmin = unix:%s/admin.sock\n' "$TT" >"$TT/unix.ini"
"$FL" serve "$TT/unix.ini" 2>"$TT/unix.log" &
P=$!; _PIDS+=($P)
wait_for 5 test -S "$TT/admin.sock"
CODE=$(curl -s -m 5 -o "$TT/resp" -w '%{http_code}' --unix-socket "$TT/admin.sock" http://x/healthz)
check admin_on_unix_socket [ "$CODE" = 200 ]
stop_pid "$P"
check admin_unix_socket_removed_at_exit test ! -e "$TT/admin.sock"
done_tests
