#!/usr/bin/env bash
# Compatibility with a real Toxiproxy client library: npm's toxiproxy-node-client drives the
# admin API unchanged (tests/control/toxiproxy_client.js): create a proxy, add and remove a toxic of
# each mapped type and observe its effect on a real connection, update, disable, reset,
# populate. Skipped with a message when node/npm are missing or the package cannot be installed.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "# skip: node or npm not installed (apt-get install nodejs npm) -- toxiproxy-node-client not run"
    exit 0
fi
if [ "$(node -e 'console.log(typeof fetch)')" != function ]; then
    echo "# skip: node $(node --version) has no fetch (toxiproxy-node-client 4 needs node >= 18)"
    exit 0
fi
CLIENT_DIR="$BUILD/npm-toxiproxy"
case "$CLIENT_DIR" in /*) ;; *) CLIENT_DIR="$PWD/$CLIENT_DIR" ;; esac
if [ ! -f "$CLIENT_DIR/node_modules/toxiproxy-node-client/package.json" ]; then
    mkdir -p "$CLIENT_DIR"
    if ! timeout 120 npm install --prefix "$CLIENT_DIR" --no-audit --no-fund --loglevel=error \
            toxiproxy-node-client@4 >"$TT/npm.log" 2>&1; then
        echo "# skip: npm install toxiproxy-node-client failed: $(npm_why "$TT/npm.log")"
        exit 0
    fi
fi
echo "# toxiproxy-node-client $(jq -r .version "$CLIENT_DIR/node_modules/toxiproxy-node-client/package.json"), node $(node --version)"

start_peer ECHO 127.0.0.1:0 echo
api_profile "$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
ADMIN="$A" ECHO="$ECHO" CLIENT_DIR="$CLIENT_DIR" timeout -k 5 120 node "$(dirname "$0")/toxiproxy_client.js"
rc=$?
[ $rc -eq 0 ] || fail node_client_exit "node exited $rc"
done_tests
