#!/usr/bin/env bash
# faultline run --admin: an already running faultline is driven through its admin API (POST
# /faults at the phase start, DELETE /faults/NAME at its end); Ctrl-C leaves no fault on it.
# The live status shows the daemon's own numbers (GET /stats). FLD may name another binary for
# the daemon.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
start_redis
LP=$(free_port); AP=$(free_port)
cat >"$TT/d.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
redis = $REDIS_URL
run = admin-run-1
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
FL=${FLD:-$FL} start_fl "$TT/d.ini" "$TT/d.log" || { fail daemon_started "$(cat "$TT/d.log")"; done_tests; exit; }
wait_port "$AP" 3
code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/faults")
check admin_api_has_faults [ "$code" = 200 ]
cat >"$TT/s.ini" <<INI
[scenario]
name = admin driven
load = while :; do "$TBIN/flpeer" call 127.0.0.1:$LP 300 >/dev/null; sleep 0.1; done
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault api-hang]
proxy = api
type = hang
[phase baseline]
duration = 1s
[phase inject]
duration = 2s
faults = api-hang
[phase recover]
duration = 1s
INI
"$FL" run "$TT/s.ini" --admin "127.0.0.1:$AP" --redis "$REDIS_URL" --run admin-run-1 --out "$TT/out" >"$TT/run.out" 2>&1
check admin_run_exit_0 [ $? = 0 ]
check daemon_fault_started grep -q 'event=fault_start fault=api-hang' "$TT/d.log"
check daemon_fault_removed grep -q 'event=fault_end fault=api-hang.*reason=removed' "$TT/d.log"
check no_fault_left [ "$(curl -s -m 2 "http://127.0.0.1:$AP/faults" | tr -d ' \n')" = "[]" ]
check phases_in_daemons_run [ "$(redis-cli -s "$REDIS_SOCK" XLEN fl:run:admin-run-1:phases)" = 6 ]
check report_has_series bash -c "grep -q '<svg' '$TT/out/report.html' && ! grep -q 'no samples' '$TT/out/report.html'"
check one_window_per_phase_fault [ "$(grep -o '"fault": "api-hang"' "$TT/out/journal.json" | wc -l)" = 1 ]

# Ctrl-C in the middle of the fault phase: the daemon is left with no fault. Before it, the
# live status (plain lines, every 5 s, stderr is not a terminal) counts the daemon's new
# connections from its /stats: the load opens ~10 a second.
sed -i 's/^duration = 2s/duration = 30s/' "$TT/s.ini"
"$FL" run "$TT/s.ini" --admin "127.0.0.1:$AP" --redis "$REDIS_URL" --run admin-run-1 --out "$TT/out2" >"$TT/run2.out" 2>&1 &
R=$!
_PIDS+=($R)
wait_for 10 bash -c "curl -s -m 1 http://127.0.0.1:$AP/faults | grep -q api-hang"
check fault_active_during_phase bash -c "curl -s -m 1 http://127.0.0.1:$AP/faults | grep -q api-hang"
wait_for 12 grep -q 'phase=inject.*rate=[1-9]' "$TT/run2.out"
check live_status_has_daemon_numbers grep -q 'phase=inject.*rate=[1-9]' "$TT/run2.out"
kill -INT $R
for _ in $(seq 1 200); do kill -0 $R 2>/dev/null || break; sleep 0.05; done
wait $R; rc=$?
check interrupted_exit_not_0 [ "$rc" = 3 -o "$rc" = 1 ]
check interrupted_no_fault_left [ "$(curl -s -m 2 "http://127.0.0.1:$AP/faults" | tr -d ' \n')" = "[]" ]
check interrupted_marked_aborted grep -q '"aborted": true' "$TT/out2/journal.json"
done_tests
