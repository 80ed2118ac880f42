#!/usr/bin/env bash
# The demo's good/bad pair, shortened: the example service behind faultline, the catalog's
# hung-dependency and pool-exhaustion scenarios (ports moved to free ones, phases cut to
# seconds), against the service with a timeout and a bounded pool (must pass) and without
# (must fail, naming why). Then the buggy run's report is rendered in headless Chromium when
# chromium is installed (skipped with the reason otherwise: CI images without chromium). The
# screenshot must be a PNG of the window's size with real content (tests/peers/pngstat.py: many
# colours, a fair share of non-background pixels), not a blank or error page.
. "$(dirname "$0")/../lib.sh"

SVC=$BUILD/examples/service
PAY=$(free_port); PX=$(free_port); SP=$(free_port)
"$SVC" --payments --listen 127.0.0.1:$PAY 2>"$TT/pay.log" &
_PIDS+=($!)
wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$PAY/healthz" || { fail payments_started; exit 1; }

shorten() {  # PROFILE OUT
    sed -e "s/127\.0\.0\.1:14080/127.0.0.1:$SP/g; s/127\.0\.0\.1:14001/127.0.0.1:$PX/g; s/127\.0\.0\.1:14901/127.0.0.1:$PAY/g" \
        -e '/^\[phase baseline\]/,/^duration/ s/^duration = .*/duration = 3s/' \
        -e '/^\[phase inject\]/,/^duration/ s/^duration = .*/duration = 4s/' \
        -e '/^\[phase recover\]/,/^duration/ s/^duration = .*/duration = 2s/' "$1" >"$2"
}
shorten profiles/scenarios/hung-dependency.ini "$TT/hung.ini"
shorten profiles/scenarios/pool-exhaustion.ini "$TT/pool.ini"
check shortened_profiles_check bash -c "'$FL' check '$TT/hung.ini' >/dev/null && '$FL' check '$TT/pool.ini' >/dev/null"

declare -A RC WHY
for cfg in good buggy; do
    flags="--timeout 500 --pool 8 --breaker on"
    [ $cfg = buggy ] && flags="--timeout 0 --pool 0 --breaker off"
    "$SVC" --listen 127.0.0.1:$SP --dep 127.0.0.1:$PX $flags 2>"$TT/svc-$cfg.log" &
    S=$!
    _PIDS+=($S)
    wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$SP/healthz" || fail "service_${cfg}_started"
    for s in hung pool; do
        "$FL" run "$TT/$s.ini" --out "$TT/out-$s-$cfg" >"$TT/run-$s-$cfg.out" 2>&1
        RC[$s-$cfg]=$?
        WHY[$s-$cfg]=$(sed -n 's/^ *"why": "\(.\+\)",\?$/\1/p' "$TT/out-$s-$cfg/journal.json" | head -n1)
    done
    stop_pid $S
done

check hung_good_passes [ "${RC[hung-good]}" = 0 ]
check pool_good_passes [ "${RC[pool-good]}" = 0 ]
check hung_buggy_fails [ "${RC[hung-buggy]}" = 1 ]
check pool_buggy_fails [ "${RC[pool-buggy]}" = 1 ]
check hung_buggy_names_why bash -c "echo '${WHY[hung-buggy]}' | grep -qi 'held\|timeout'"
check pool_buggy_names_why bash -c "echo '${WHY[pool-buggy]}' | grep -qi 'concurrent\|pool'"
check buggy_table_says_fail grep -q FAIL "$TT/run-pool-buggy.out"
check reports_written bash -c "ls $TT/out-*/report.html | wc -l | grep -q 4"

# the report renders in a real browser
H="$TT/out-pool-buggy/report.html"
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
    echo "ok report_renders_in_chromium # SKIP chromium is not installed (apt-get install chromium, or scripts/install-deps.sh; see docs/scenarios.md)"
else
    # a private profile directory: other chromium instances (parallel tests) hold the default one
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1040,1250 \
        --user-data-dir="$TT/chrome" --screenshot="$TT/report.png" "file://$H" >"$TT/chrome.log" 2>&1
    st=$(python3 "$(dirname "$0")/../peers/pngstat.py" "$TT/report.png" 2>&1)
    echo "# screenshot: $st"
    check report_screenshot_is_window_sized_png bash -c "[ '$(kv "$st" width)' = 1040 ] && [ '$(kv "$st" height)' = 1250 ]"
    check report_screenshot_size_reasonable within "$(kv "$st" bytes)" 20000 5000000
    check report_screenshot_not_blank bash -c "[ '$(kv "$st" colors)' -ge 50 ] && awk -v i='$(kv "$st" ink)' 'BEGIN { exit !(i >= 0.05 && i <= 0.95) }'"
    # rendered text: the verdict and the timelines are in the DOM chromium built
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --user-data-dir="$TT/chrome" \
        --dump-dom "file://$H" >"$TT/dom.html" 2>/dev/null
    check rendered_dom_has_verdict grep -Eq 'class="v (FAIL|INCONCLUSIVE)"' "$TT/dom.html"
    check rendered_dom_has_timelines grep -q 'concurrent connections' "$TT/dom.html"
    [ -n "${KEEP_SCREENSHOT:-}" ] && cp "$TT/report.png" "$KEEP_SCREENSHOT"
fi
done_tests
