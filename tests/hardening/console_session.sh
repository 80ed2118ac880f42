#!/usr/bin/env bash
# The console's browser-safe session (issue 23, docs/security.md), attacked with curl: the page is
# served to browsers (with a CSP that forbids framing) but a cross-site navigation is refused;
# the login takes the token only as JSON from the API's own origin and answers an HttpOnly,
# SameSite=Strict cookie plus a CSRF value; the cookie alone is worth nothing (a browser without
# the CSRF header is refused as any browser is; a non-browser client still needs the token); a
# foreign Origin or a cross-site fetch is refused even with both; logout, a rotated token and a
# full session table end sessions. On a loopback API without a token the console logs in as
# "loopback" and the API's rule for non-browsers is unchanged. The browser's own side (a page on
# another origin, the cookie jar): tests/control/console_browser.sh.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
printf 'tok-one-%s\n' "$RANDOM" >"$TT/token"
chmod 600 "$TT/token"
api_profile "$TT/p.ini" "admin_token_file = $TT/token" "admin_token_name = ops" \
    "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
TOK=$(cat "$TT/token")
UA='Mozilla/5.0 (X11; Linux x86_64) Chrome/120'
OWN="Origin: $A"

# hc NAME CODE [RULE] -- curl ARGS...: status, and the 403's error naming RULE
hc() {
    local n=$1 want=$2 rule=$3; shift 3
    local code
    code=$(curl -s -m 5 -D "$TT/hdr" -o "$TT/body" -w '%{http_code}' "$@")
    if [ "$code" != "$want" ]; then fail "$n" "HTTP $code, expected $want: $(head -c 300 "$TT/body")"; return; fi
    if [ -n "$rule" ] && ! grep -q "$rule" "$TT/body"; then fail "$n" "no '$rule' in: $(head -c 300 "$TT/body")"; return; fi
    pass "$n"
}

# the page
hc page_for_browsers 200 "" -A "$UA" -H 'Sec-Fetch-Site: none' "$A/console"
check page_is_html grep -qi '^Content-Type: text/html' "$TT/hdr"
check page_csp_no_framing grep -qi "^Content-Security-Policy: .*frame-ancestors 'none'" "$TT/hdr"
check page_csp_scripts_self grep -qi "^Content-Security-Policy: .*script-src 'self'" "$TT/hdr"
check page_x_frame_options grep -qi '^X-Frame-Options: DENY' "$TT/hdr"
hc page_script 200 "" -A "$UA" "$A/console/console.js"
check page_script_type grep -qi '^Content-Type: text/javascript' "$TT/hdr"
hc page_unknown_file_404 404 "" -A "$UA" "$A/console/nothing.js"
hc page_cross_site_navigation_403 403 sec_fetch_site -A "$UA" -H 'Sec-Fetch-Site: cross-site' "$A/console"
hc page_rebound_host_403 403 admin_hosts -A "$UA" -H 'Host: evil.example' "$A/console"
hc page_post_405 405 "" -A "$UA" -H "$OWN" -X POST "$A/console"
hc login_says_token_needed 200 "" -A "$UA" "$A/console/login"
check login_token_required jqf '.token_required == true' "$TT/body"

# the login
J='Content-Type: application/json'
hc login_wrong_token_401 401 "wrong token" -A "$UA" -H "$OWN" -H "$J" -d '{"token":"nope"}' "$A/console/login"
hc login_no_origin_403 403 console_origin -A "$UA" -H "$J" -d "{\"token\":\"$TOK\"}" "$A/console/login"
hc login_foreign_origin_403 403 origin -A "$UA" -H 'Origin: http://evil.example' -H "$J" -d "{\"token\":\"$TOK\"}" "$A/console/login"
hc login_cross_site_403 403 sec_fetch_site -A "$UA" -H "$OWN" -H 'Sec-Fetch-Site: cross-site' -H "$J" -d "{\"token\":\"$TOK\"}" "$A/console/login"
hc login_form_encoded_415 415 "JSON body" -A "$UA" -H "$OWN" -d "token=$TOK" "$A/console/login"
hc login_ok 200 "" -A "$UA" -H "$OWN" -H 'Sec-Fetch-Site: same-origin' -H "$J" -d "{\"token\":\"$TOK\"}" "$A/console/login"
SC=$(grep -i '^Set-Cookie:' "$TT/hdr" | tr -d '\r')
check cookie_httponly grep -qi 'HttpOnly' <<<"$SC"
check cookie_samesite_strict grep -qi 'SameSite=Strict' <<<"$SC"
check cookie_path_root grep -qi 'Path=/;' <<<"$SC"
check cookie_expires grep -qi "Max-Age=43200" <<<"$SC"
check cookie_named_for_port grep -q "fl_console_$ADMIN_PORT=[0-9a-f]\{32\};" <<<"$SC"
check login_answer jqf '(.csrf | test("^[0-9a-f]{32}$")) and .who == "ops" and .token_required == true' "$TT/body"
check login_answer_has_no_token bash -c "! grep -q '$TOK' '$TT/body'"
CK=$(sed -n 's/^Set-Cookie: \([^;]*\);.*/\1/Ip' <<<"$SC")
CS=$(jq -r .csrf "$TT/body")
SESS=(-A "$UA" -H "Cookie: $CK" -H "X-Faultline-CSRF: $CS")
BODY='{"name":"c1","type":"latency","proxy":"db","delay":"2ms"}'

# a session's requests
hc session_reads 200 "" "${SESS[@]}" -H 'Sec-Fetch-Site: same-origin' "$A/stats"
hc session_changes 201 "" "${SESS[@]}" -H "$OWN" -H 'Sec-Fetch-Site: same-origin' -H "$J" -d "$BODY" "$A/faults"
hc session_change_without_origin_403 403 console_origin "${SESS[@]}" -H "$J" -d "$BODY" "$A/faults"
hc session_change_foreign_origin_403 403 origin "${SESS[@]}" -H 'Origin: http://evil.example' -d "$BODY" "$A/faults"
hc session_change_cross_site_403 403 sec_fetch_site "${SESS[@]}" -H "$OWN" -H 'Sec-Fetch-Site: cross-site' -X POST "$A/kill"
hc session_wrong_csrf_403 403 csrf -A "$UA" -H "Cookie: $CK" -H 'X-Faultline-CSRF: 00000000000000000000000000000000' -H "$OWN" -X POST "$A/kill"
hc csrf_without_cookie_403 403 console_session -A "$UA" -H "X-Faultline-CSRF: $CS" -H "$OWN" -X POST "$A/kill"
# a cross-site form or fetch carries the cookie at most (SameSite=Strict keeps even that away)
hc cookie_alone_browser_403 403 "User agent" -A "$UA" -H "Cookie: $CK" -H "$OWN" -H 'Content-Type: text/plain' -d "$BODY" "$A/faults"
hc cookie_alone_client_401 401 unauthorized -H "Cookie: $CK" -X POST "$A/kill"
hc cookie_alone_cross_site_403 403 "" -A "$UA" -H "Cookie: $CK" -H 'Origin: http://evil.example' -H 'Sec-Fetch-Site: cross-site' -X POST "$A/kill"
CODE=$(curl -s -m 5 -o "$TT/f" -w '%{http_code}' -H "Authorization: Bearer $TOK" "$A/faults")
check refused_changed_nothing jqf 'length == 1 and .[0].name == "c1" and .[0].state == "active"' "$TT/f"
check no_cors_headers_ever bash -c "! grep -qi '^Access-Control-Allow' '$TT/hdr'"
hc preflight_refused 403 origin -A "$UA" -X OPTIONS -H 'Origin: http://evil.example' -H 'Access-Control-Request-Method: POST' \
    -H 'Access-Control-Request-Headers: x-faultline-csrf' "$A/faults"
check preflight_no_allow_origin bash -c "! grep -qi '^Access-Control-Allow' '$TT/hdr'"
check audit_names_session_user grep -q 'event=audit who=ops via=console what="POST /faults fault=c1 type=latency proxy=db" status=201' "$FL_LOG"

# ending sessions: logout, a rotated token, a full table
hc logout_needs_session 403 "" -A "$UA" -H "$OWN" -X POST "$A/console/logout"
hc logout 204 "" "${SESS[@]}" -H "$OWN" -X POST "$A/console/logout"
check logout_clears_cookie grep -qi "^Set-Cookie: fl_console_$ADMIN_PORT=; .*Max-Age=0" "$TT/hdr"
hc after_logout_403 403 console_session "${SESS[@]}" "$A/stats"
login() {   # a fresh session: CK, CS
    curl -s -m 5 -D "$TT/lh" -o "$TT/lb" -A "$UA" -H "$OWN" -H "$J" -d "{\"token\":\"$(cat "$TT/token")\"}" "$A/console/login"
    CK=$(sed -n 's/^Set-Cookie: \([^;]*\);.*/\1/Ip' "$TT/lh" | tr -d '\r')
    CS=$(jq -r .csrf "$TT/lb")
}
login
FIRST=(-A "$UA" -H "Cookie: $CK" -H "X-Faultline-CSRF: $CS")
hc new_session_works 200 "" "${FIRST[@]}" "$A/stats"
for _ in $(seq 1 64); do login; done
hc table_full_oldest_ended 403 console_session "${FIRST[@]}" "$A/stats"
hc newest_session_works 200 "" -A "$UA" -H "Cookie: $CK" -H "X-Faultline-CSRF: $CS" "$A/stats"
printf 'tok-two-%s\n' "$RANDOM" >"$TT/token"
kill -HUP "$FL_PID"
wait_for 5 grep -q admin_token_reloaded "$FL_LOG"
hc rotated_token_ends_sessions 403 console_session -A "$UA" -H "Cookie: $CK" -H "X-Faultline-CSRF: $CS" "$A/stats"
login
hc new_token_logs_in 200 "" -A "$UA" -H "Cookie: $CK" -H "X-Faultline-CSRF: $CS" "$A/stats"

# an API without a token (loopback): the console logs in as "loopback"; nothing else changes
ADMIN_PORT=$(free_port)
A="http://127.0.0.1:$ADMIN_PORT"
OWN="Origin: $A"
api_profile "$TT/q.ini" "[proxy db2]" "listen = 127.0.0.1:$(free_port)" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/q.ini" || { fail start_loopback "$(cat "$FL_LOG")"; done_tests; exit; }
hc open_login_says_no_token 200 "" -A "$UA" "$A/console/login"
check open_token_not_required jqf '.token_required == false' "$TT/body"
hc open_login 200 "" -A "$UA" -H "$OWN" -H "$J" -d '{"token":""}' "$A/console/login"
check open_login_is_loopback jqf '.who == "loopback"' "$TT/body"
hc open_browser_without_session_403 403 "User agent" -A "$UA" "$A/faults"
hc open_client_as_before 200 "" "$A/faults"
hc open_client_change 200 "" -X POST "$A/kill"
check open_audit_loopback grep -q 'event=audit who=loopback via=api what="POST /kill" status=200' "$FL_LOG"
done_tests
