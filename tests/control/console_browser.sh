#!/usr/bin/env bash
# The console in a real browser (issue 23): headless Chromium driven over the DevTools protocol
# by tests/control/console_cdp.js (Node's own WebSocket, no npm package). It loads /console,
# logs in with the token, adds a fault through the console, sees it listed with its time left
# and in the audit list, presses "Kill all faults" and sees every fault killed (in the page and
# through the API); checks the session cookie's flags; opens a page on another origin that tries
# to read the API and to change it with the cookie (all refused, nothing changed); and renders
# the fleet's Instances panel from a stubbed /fleet/instances answering the fleet contract's 200
# (the real one answers 404 here: no fleet). Skipped, with the reason, without chromium or node
# (tests/control/lib_chrome.bash).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

. "$(dirname "$0")/lib_chrome.bash"
chrome_ready console_browser || exit 0

start_peer ECHO 127.0.0.1:0 echo
start_peer HUP 127.0.0.1:0 http
LP=$(free_port); WP=$(free_port)
api_profile "$TT/p.ini" "admin_token = gd-$RANDOM$RANDOM" "admin_token_name = gameday" \
    "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO" \
    "[proxy web]" "listen = 127.0.0.1:$WP" "upstream = 127.0.0.1:$HUP" "mode = http" \
    "[fault base]" "type = latency" "proxy = db" "delay = 1ms"
TOKEN=$(sed -n 's/^admin_token = //p' "$TT/p.ini")
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
# live traffic through the http proxy (its rate and latency in the Proxies panel), and a run's
# verdicts posted as `faultline run --admin` does at its end (the Verdicts panel)
( while :; do curl -s -m 2 -o /dev/null "http://127.0.0.1:$WP/x"; sleep 0.05; done ) &
_PIDS+=($!)
curl -s -m 5 -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"run":"r-1","exit":1,"verdicts":[{"name":"db-slo",
  "check":"slo","proxy":"web","verdict":"FAIL","measured":"91% answered","bound":">= 95%","why":"x"}]}' "$A/verdicts"

# another origin, another site: localhost (the console is on 127.0.0.1)
EVP=$(free_port)
mkdir -p "$TT/evil"
sed "s|__ADMIN__|$A|g" "$(dirname "$0")/../fixtures/console_evil.html" >"$TT/evil/evil.html"
python3 -m http.server "$EVP" --bind 127.0.0.1 --directory "$TT/evil" >"$TT/evil.log" 2>&1 &
_PIDS+=($!)
wait_port "$EVP" 10 || { fail evil_server "python3 http.server did not start: $(cat "$TT/evil.log")"; exit 1; }

chrome_start || exit 1

timeout 120 node "${NODEFLAGS[@]}" "$(dirname "$0")/console_cdp.js" "$WS" "$A" "$TOKEN" "http://localhost:$EVP" "$TT" \
    2>"$TT/node.err" | tee "$TT/node.out"
grep -q '^ok ' "$TT/node.out" || fail cdp_driver_ran "$(tail -n 5 "$TT/node.err")"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$TT"/console-*.png "$KEEP_SCREENSHOT" 2>/dev/null

# the daemon's side of the cross-site attempts: refused at the gate, written to its log
check cross_site_requests_refused_in_log grep -Eq 'event=api method=POST uri=/(faults|resume) status=403' "$FL_LOG"
check audit_log_line_names_console grep -Eq 'event=audit who=gameday via=console what="POST /kill"' "$FL_LOG"
grep -q '^not ok ' "$TT/node.out" && _FAILS=$((_FAILS + 1))
done_tests
