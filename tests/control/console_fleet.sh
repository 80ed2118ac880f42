#!/usr/bin/env bash
# The console against a live fleet (issue 23), in headless Chromium: one Redis and 3 real
# daemons with [fleet] sections and labels (tests/fleet/lib_fleet.bash). A leased fault is added
# through the fleet; a few seconds later the console of inst1 opens (tests/control/
# console_fleet_cdp.js): it lists the 3 instances with their labels and the fault, its timeline
# draws the fault from when it began acting (not from when the page opened), and a fleet kill
# sent by another controller shows on it (Faults panel, every instance, a timeline marker).
# Skipped, with the reason, without chromium or node
# (tests/control/lib_chrome.bash).
. "$(dirname "$0")/../lib.sh"

. "$(dirname "$0")/lib_chrome.bash"
chrome_ready console_fleet || exit 0
. "$(dirname "$0")/../fleet/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
fleet_start 3 || { fail start "the fleet did not come up"; exit 1; }
ADDED=$(( $(date +%s%N) / 1000000 ))
out=$(fleet_ctl add lag type=latency proxy=db delay=5ms --lease 120s 2>&1)
check fleet_add_3_of_3 grep -q '^add: 3 of 3 applied' <<<"$out"
sleep 4   # the page opens after the fault began

chrome_start || exit 1
KILL_CMD="'$FL' ctl --fleet kill --redis '$RURL' --key-file '$KEY'"
timeout 120 node "${NODEFLAGS[@]}" "$(dirname "$0")/console_fleet_cdp.js" "$WS" "$(admin 1)" "$TT" "$ADDED" "$KILL_CMD" \
    2>"$TT/node.err" | tee "$TT/node.out"
grep -q '^ok ' "$TT/node.out" || fail cdp_driver_ran "$(tail -n 5 "$TT/node.err")"
[ -n "${KEEP_SCREENSHOT:-}" ] && cp "$TT"/console-*.png "$KEEP_SCREENSHOT" 2>/dev/null
grep -q '^not ok ' "$TT/node.out" && _FAILS=$((_FAILS + 1))
done_tests
