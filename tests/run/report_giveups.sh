#!/usr/bin/env bash
# report.html counts each client give-up once on an http proxy (issue 19, 1.4): a held call
# has a request event (abandoned_ms) and its connection's event (gave_up_ms); the report's
# "clients giving up on held calls (N; ...)" is the number of calls the clients gave up on.
# Load: curl -m 1 calls one after another; a hang in the middle phase.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
OUT="$TT/out"
cat >"$TT/load.sh" <<SH
while true; do
  curl -s -m 1 -o /dev/null "http://127.0.0.1:$LP/"
  echo \$? >>"$TT/calls.log"
  sleep 0.2
done
SH
cat >"$TT/s.ini" <<INI
[scenario]
name = give-ups counted once
load = bash $TT/load.sh
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
mode = http
[fault api-hang]
proxy = api
type = hang
on_end = reset
[phase baseline]
duration = 1s
[phase inject]
duration = 4s
faults = api-hang
[phase recover]
duration = 2s
INI
"$FL" run "$TT/s.ini" --out "$OUT" >"$TT/run.out" 2>"$TT/run.err"
rc=$?
check run_ran [ "$rc" = 0 ]
gave=$(grep -c '^28$' "$TT/calls.log")
shown=$(sed -n 's/.*clients giving up on held calls (\([0-9]*\);.*/\1/p' "$OUT/report.html" | head -n1)
echo "# curl timeouts: $gave, the report: $shown"
check calls_given_up [ "$gave" -ge 2 ]
# a call cut by the reset at the window's end (curl exit 56) was not given up on: not counted
check report_counts_each_once [ "$shown" = "$gave" ]
done_tests
