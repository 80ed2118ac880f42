#!/usr/bin/env bash
# scripts/demo.sh -- placeholder demo until the scenario demo lands: starts faultline with
# profiles/passthrough.ini in front of a local upstream, shows a request passing through it with
# curl, and stops everything. Uses only 127.0.0.1: the profile's ports 8080 and 18080, or the
# next free ones when those are taken.
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FL=$BUILD/faultline
[ -x "$FL" ] && [ -x "$BUILD/t/flpeer" ] || make -s all
W=$(mktemp -d /tmp/fldemo.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    rm -rf "$W"
}
trap cleanup EXIT
busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_port() { for _ in $(seq 1 100); do busy "$1" && return 0; sleep 0.05; done; echo "demo: nothing listens on $1" >&2; return 1; }
# the profile's ports, or free ones when something else already uses them
UP=8080; LP=18080
pick() { local p=$1; while busy "$p"; do p=$((p + 1)); done; echo "$p"; }
UP=$(pick $UP); LP=$(pick $LP)
[ "$LP" = "$UP" ] && LP=$(pick $((LP + 1)))

echo "== upstream: a small HTTP server on 127.0.0.1:$UP"
"$BUILD/t/flpeer" serve "127.0.0.1:$UP" http >/dev/null &
PIDS+=($!)
wait_port "$UP"
echo "== faultline serve profiles/passthrough.ini (127.0.0.1:$LP -> 127.0.0.1:$UP; log = debug, admin off)"
sed "s/^log = info/log = debug/; s/^admin = .*/admin = off/; s/^listen = 127.0.0.1:18080/listen = 127.0.0.1:$LP/;
     s/^upstream = 127.0.0.1:8080/upstream = 127.0.0.1:$UP/" profiles/passthrough.ini >"$W/demo.ini"
"$FL" serve "$W/demo.ini" 2>"$W/fl.log" &
FLP=$!
PIDS+=($FLP)
wait_port "$LP"
echo "== curl -i http://127.0.0.1:$LP/demo"
curl -sS -i --max-time 5 "http://127.0.0.1:$LP/demo"
echo "== faultline's log (the close line shows the bytes each way)"
kill -TERM "$FLP"
wait "$FLP" || true
cat "$W/fl.log"
echo "== done: faultline exited, upstream stopped"
