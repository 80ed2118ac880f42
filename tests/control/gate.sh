#!/usr/bin/env bash
# Browser reach and the admin connection cap (issue 20): a web page cannot drive the admin API
# (Host for DNS rebinding, Origin, Sec-Fetch-Site, browser user agents: 403 naming the rule, and
# nothing changes), and a flood of connections past admin_max_conns cannot evict the operator's
# connection (new ones are refused instead, and counted in /metrics). See docs/security.md.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/p.ini" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }

# hreq NAME CODE RULE -- curl ARGS...: the answer's status, and its error naming RULE (403)
hreq() {
    local n=$1 want=$2 rule=$3; shift 3
    local code
    code=$(curl -s -m 5 -o "$TT/h" -w '%{http_code}' "$@")
    if [ "$code" != "$want" ]; then fail "$n" "HTTP $code, expected $want: $(head -c 300 "$TT/h")"; return; fi
    if [ -n "$rule" ] && ! jqf ".status == 403 and (.error | test(\"$rule\"))" "$TT/h"; then
        fail "$n" "error does not name $rule: $(head -c 300 "$TT/h")"; return
    fi
    pass "$n"
}
BODY='{"name":"evil","type":"latency","proxy":"db","delay":"5s"}'
# DNS rebinding: the page's own name, resolved to 127.0.0.1
hreq host_evil_403 403 admin_hosts -H 'Host: evil.example' "$A/healthz"
hreq host_evil_with_port_403 403 admin_hosts -H "Host: evil.example:$ADMIN_PORT" "$A/faults"
hreq host_evil_post_403 403 admin_hosts -H "Host: evil.example:$ADMIN_PORT" -H 'Content-Type: text/plain' -d "$BODY" "$A/faults"
hreq host_localhost_ok 200 "" -H "Host: localhost:$ADMIN_PORT" "$A/healthz"
hreq host_loopback_v4_ok 200 "" -H "Host: 127.0.0.1:$ADMIN_PORT" "$A/healthz"
hreq host_loopback_v6_ok 200 "" -H "Host: [::1]:$ADMIN_PORT" "$A/healthz"
hreq host_other_address_ok 200 "" -H "Host: 192.0.2.7:$ADMIN_PORT" "$A/healthz"
# a cross-origin page (no rebinding): its Origin and Sec-Fetch-Site give it away
hreq origin_evil_403 403 origin -H 'Origin: http://evil.example' -H 'Content-Type: text/plain' -d "$BODY" "$A/faults"
hreq origin_null_403 403 origin -H 'Origin: null' -d "$BODY" "$A/faults"
hreq origin_other_port_403 403 origin -H 'Origin: http://127.0.0.1:1' "$A/faults"
hreq origin_own_ok 200 "" -H "Origin: http://127.0.0.1:$ADMIN_PORT" "$A/faults"
hreq sec_fetch_cross_site_403 403 sec_fetch_site -H 'Sec-Fetch-Site: cross-site' -d "$BODY" "$A/faults"
hreq sec_fetch_same_site_403 403 sec_fetch_site -H 'Sec-Fetch-Site: same-site' "$A/faults"
hreq sec_fetch_same_origin_ok 200 "" -H 'Sec-Fetch-Site: same-origin' "$A/faults"
hreq sec_fetch_none_ok 200 "" -H 'Sec-Fetch-Site: none' "$A/faults"
hreq browser_user_agent_403 403 "User agent" -A 'Mozilla/5.0 (X11; Linux x86_64)' "$A/faults"
req GET /faults
expect refused_requests_changed_nothing 200 'length == 0'
check ctl_still_passes_the_gate "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" list

# the connection cap: the operator's connection (it has been served) survives a flood
# op_req FD: one keep-alive GET /healthz on an open connection; 0 when it answered 200
trap "" PIPE   # a write on a connection the server closed must fail, not end the script
op_req() {
    local fd=$1 line len=0
    printf 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$fd" 2>/dev/null || return 1
    IFS= read -r -t 5 line <&"$fd" || return 1
    case "$line" in "HTTP/1.1 200"*) ;; *) return 1 ;; esac
    while IFS= read -r -t 5 line <&"$fd"; do
        line=${line%$'\r'}
        [ -z "$line" ] && break
        case "${line,,}" in content-length:*) len=${line#*: } ;; esac
    done
    [ "$len" -gt 0 ] && IFS= read -r -t 5 -N "$len" line <&"$fd"
    return 0
}
# the default cap (256): 300 connections that never send a request cannot evict the operator's
exec 5<>"/dev/tcp/127.0.0.1/$ADMIN_PORT"
check default_cap_operator_first_request op_req 5
"$TBIN/idleconns" "127.0.0.1:$ADMIN_PORT" 300 2 >"$TT/idle300.out" &
IDLE=$!
wait_for 5 grep -q open= "$TT/idle300.out"
sleep 0.3
check default_cap_operator_survives_300 op_req 5
wait "$IDLE"
exec 5>&-
stop_pid "$FL_PID"

# names an operator uses for the admin API are listed in admin_hosts; a cap of 50 connections
ADMIN_PORT=$(free_port); A="http://127.0.0.1:$ADMIN_PORT"
api_profile "$TT/q.ini" "admin_hosts = faultline.test, *.ops.test" "admin_max_conns = 50" \
    "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/q.ini" || { fail start_capped "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
hreq host_listed_ok 200 "" -H "Host: faultline.test:$ADMIN_PORT" "$A/healthz"
hreq host_listed_glob_ok 200 "" -H "Host: a.ops.test" "$A/healthz"
hreq host_unlisted_still_403 403 admin_hosts -H "Host: faultline.test.evil.example" "$A/healthz"
hreq origin_listed_host_ok 200 "" -H "Host: faultline.test:$ADMIN_PORT" -H "Origin: http://faultline.test:$ADMIN_PORT" "$A/healthz"

exec 5<>"/dev/tcp/127.0.0.1/$ADMIN_PORT"
check operator_first_request op_req 5
# 60 connections that never send a request: past the cap the oldest of them make room
"$TBIN/idleconns" "127.0.0.1:$ADMIN_PORT" 60 4 >"$TT/idle.out" &
IDLE=$!
wait_for 5 grep -q open= "$TT/idle.out"
sleep 0.3
check operator_survives_unserved_flood op_req 5
wait "$IDLE"
# 45 connections that each get an answer and stay open, with the operator's 46 of 50
"$TBIN/idleconns" "127.0.0.1:$ADMIN_PORT" 45 4 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >"$TT/served.out" &
S1=$!
wait_for 5 grep -q open= "$TT/served.out"
echo "# served flood: $(head -n1 "$TT/served.out")"
# then 15 more, one after the other (a batch arriving at once makes room among itself)
LATE=()
for i in $(seq 1 15); do
    "$TBIN/idleconns" "127.0.0.1:$ADMIN_PORT" 1 3 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' 2 >"$TT/late.$i" 2>&1 &
    LATE+=($!)
    sleep 0.1
done
check operator_survives_served_flood op_req 5
wait "${LATE[@]}" "$S1"
answered=$(cat "$TT"/late.* | grep -c 'answered=1')
echo "# late connections answered: $answered of 15"
check late_connections_refused [ "$answered" = 4 ]
curl -s -m 5 "$A/metrics" >"$TT/metrics"
ref=$(sed -n 's/^faultline_admin_connections_refused_total \([0-9]*\)$/\1/p' "$TT/metrics")
ev=$(sed -n 's/^faultline_admin_connections_evicted_total \([0-9]*\)$/\1/p' "$TT/metrics")
echo "# metrics: refused=$ref evicted=$ev"
check metrics_count_refusals [ "${ref:-0}" = 11 ]
check metrics_count_evictions within "${ev:-0}" 10 60
check operator_connection_still_open op_req 5
exec 5>&-
done_tests
