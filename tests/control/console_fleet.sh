#!/usr/bin/env bash
# The console against a live fleet (issue 23), in headless Chromium: one Redis and 3 real
# daemons with [fleet] sections and labels (tests/fleet/lib_fleet.bash). A leased fault is added
# through the fleet; a few seconds later the console of inst1 opens (tests/control/
# console_fleet_cdp.js): it lists the 3 instances with their labels and the fault, its timeline
# draws the fault from when it began acting (not from when the page opened), and a fleet kill
# sent by another controller shows on it (Faults panel, every instance, a timeline marker).
# Skipped, with the reason, without chromium or node.
. "$(dirname "$0")/../lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then echo "ok console_fleet # SKIP chromium is not installed (apt-get install chromium)"; exit 0; fi
if ! command -v node >/dev/null 2>&1; then echo "ok console_fleet # SKIP node is not installed"; exit 0; fi
NODEFLAGS=()
[ "$(node -e 'process.stdout.write(typeof WebSocket)')" = function ] || NODEFLAGS=(--experimental-websocket)
[ "$(node "${NODEFLAGS[@]}" -e 'process.stdout.write(typeof WebSocket)' 2>/dev/null)" = function ] ||
    { echo "ok console_fleet # SKIP this node has no WebSocket (node >= 20.10 needed)"; exit 0; }
. "$(dirname "$0")/../fleet/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
fleet_start 3 || { fail start "the fleet did not come up"; exit 1; }
ADDED=$(( $(date +%s%N) / 1000000 ))
out=$(fleet_ctl add lag type=latency proxy=db delay=5ms --lease 120s 2>&1)
check fleet_add_3_of_3 grep -q '^add: 3 of 3 applied' <<<"$out"
sleep 4   # the page opens after the fault began

"$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
    --remote-debugging-port=0 --user-data-dir="$TT/chrome" --window-size=1280,1400 about:blank >"$TT/chrome.log" 2>&1 &
_PIDS+=($!)
wait_for 30 grep -q 'DevTools listening on ws://' "$TT/chrome.log" ||
    { fail chromium_started "no DevTools endpoint: $(tail -n 5 "$TT/chrome.log")"; exit 1; }
WS=$(sed -n 's/^DevTools listening on \(ws:.*\)$/\1/p' "$TT/chrome.log" | head -n1)
KILL_CMD="'$FL' ctl --fleet kill --redis '$RURL' --key-file '$KEY'"
timeout 120 node "${NODEFLAGS[@]}" "$(dirname "$0")/console_fleet_cdp.js" "$WS" "$(admin 1)" "$TT" "$ADDED" "$KILL_CMD" \
    2>"$TT/node.err" | tee "$TT/node.out"
grep -q '^ok ' "$TT/node.out" || fail cdp_driver_ran "$(tail -n 5 "$TT/node.err")"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$TT"/console-*.png "$KEEP_SCREENSHOT" 2>/dev/null
grep -q '^not ok ' "$TT/node.out" && _FAILS=$((_FAILS + 1))
done_tests
