# lib_chrome.bash -- sourced by the console tests (after ../lib.sh): headless Chromium, driven over
# the DevTools protocol by a Node script built on tests/control/cdp_lib.js.
#
#   chrome_ready NAME  finds chromium, and a WebSocket for the Node client: node's own (node 22,
#                      or 20.10+ with --experimental-websocket), else the npm package ws (node 18,
#                      Debian 12's own), installed once under $BUILD/npm-ws and passed to the
#                      client as CDP_WS_DIR. Sets CHROME and NODEFLAGS. When something is
#                      missing it prints one "ok NAME # skip REASON" line and returns 1.
#                      CDP_FORCE_NPM_WS=1 takes the npm path even where node has its own.
#   chrome_start       starts it headless on about:blank (killed at the test's end); sets WS, the
#                      DevTools endpoint, or fails chromium_started and returns 1
chrome_ready() {
    local name=$1 dir
    CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
    [ -n "$CHROME" ] || { echo "ok $name # skip chromium is not installed (apt-get install chromium)"; return 1; }
    command -v node >/dev/null 2>&1 || { echo "ok $name # skip node is not installed (apt-get install nodejs)"; return 1; }
    NODEFLAGS=()
    if [ -z "${CDP_FORCE_NPM_WS:-}" ]; then
        [ "$(node -e 'process.stdout.write(typeof WebSocket)')" = function ] || NODEFLAGS=(--experimental-websocket)
        [ "$(node "${NODEFLAGS[@]}" -e 'process.stdout.write(typeof WebSocket)' 2>/dev/null)" = function ] && return 0
    fi
    NODEFLAGS=()
    dir=$BUILD/npm-ws
    case "$dir" in /*) ;; *) dir=$PWD/$dir ;; esac
    if [ ! -f "$dir/node_modules/ws/package.json" ]; then
        mkdir -p "$dir"
        timeout 120 npm install --prefix "$dir" --no-audit --no-fund --loglevel=error ws@8 >"$TT/npm.log" 2>&1 ||
            { echo "ok $name # skip node $(node --version) has no WebSocket and npm install ws failed: $(npm_why "$TT/npm.log")"; return 1; }
    fi
    export CDP_WS_DIR=$dir/node_modules
}

chrome_start() {
    "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run --no-default-browser-check \
        --remote-debugging-port=0 --user-data-dir="$TT/chrome" --window-size=1280,1400 about:blank >"$TT/chrome.log" 2>&1 &
    _PIDS+=($!)
    wait_for 30 grep -q 'DevTools listening on ws://' "$TT/chrome.log" ||
        { fail chromium_started "no DevTools endpoint: $(tail -n 5 "$TT/chrome.log")"; return 1; }
    WS=$(sed -n 's/^DevTools listening on \(ws:.*\)$/\1/p' "$TT/chrome.log" | head -n1)
}
