#!/usr/bin/env bash
# Ctrl-C during a run: the load's whole process group is stopped, every fault is removed (held
# calls are let go), the embedded redis-server is stopped, and the partial report is still
# written, marked aborted. Recovery after the fault was never observed: the recovery check is
# INCONCLUSIVE saying so (the runner's removal of the fault and its closing of every connection
# at the end look like a perfect recovery), in the run and when record.json is judged again
# (`verify --record`). A bad scenario is refused up front with PATH:LINE: and exit 2.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
OUT="$TT/out"
cat >"$TT/load.sh" <<SH
echo \$\$ >"$TT/sh.pid"
sleep 300 &
echo \$! >"$TT/sleep.pid"
wait
SH
cat >"$TT/s.ini" <<INI
[scenario]
name = interrupted
load = bash $TT/load.sh
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault api-hang]
proxy = api
type = hang
[phase baseline]
duration = 3s
[phase inject]
duration = 60s
faults = api-hang
[phase recover]
duration = 10s
[expect t]
check = timeout
proxy = api
within = 1s
[expect back]
check = recovery
proxy = api
within = 2s
INI
"$FL" run "$TT/s.ini" --out "$OUT" >"$TT/run.out" 2>"$TT/run.err" &
RUN=$!
_PIDS+=($RUN)
wait_for 10 test -s "$TT/sleep.pid"
sleep 3.5
# a call held by the fault, with a client that would wait 30 s
"$TBIN/flpeer" call "127.0.0.1:$LP" 30000 >"$TT/held.out" 2>&1 &
HELD=$!
sleep 0.5
check call_is_held kill -0 "$HELD"
t0=$(date +%s%3N)
kill -INT "$RUN"
for _ in $(seq 1 200); do kill -0 "$RUN" 2>/dev/null || break; sleep 0.05; done
wait "$RUN"; rc=$?
t1=$(date +%s%3N)
check stopped_within_6s within $((t1 - t0)) 0 6000
check exit_not_pass [ "$rc" = 1 -o "$rc" = 3 ]
# gone = no such process, or a zombie waiting for init to reap it
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
check load_shell_gone wait_for 3 gone "$(cat "$TT/sh.pid")"
check load_child_gone wait_for 3 gone "$(cat "$TT/sleep.pid")"
check embedded_redis_gone bash -c "! pgrep -f '[r]edis-server.*$OUT' >/dev/null && [ ! -e '$OUT/redis.sock' ]"
for _ in $(seq 1 60); do kill -0 "$HELD" 2>/dev/null || break; sleep 0.05; done
check held_call_released bash -c "! kill -0 $HELD 2>/dev/null"
check proxy_port_closed bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$LP) 2>/dev/null"

J="$OUT/journal.json"
jq_() { python3 -c "import json,sys; j=json.load(open('$J')); print($1)"; }
check journal_written test -s "$J"
check journal_aborted [ "$(jq_ "j['aborted']")" = True ]
check abort_reason_sigint bash -c "grep -q SIGINT '$J'"
check every_fault_window_closed [ "$(jq_ "all(w['end_ms'] for w in j['faults']) and len(j['faults']) == 1")" = True ]
check inject_phase_cut_short [ "$(jq_ "j['phases'][1]['end_ms'] - j['phases'][1]['start_ms'] < 10000")" = True ]
check recover_never_started [ "$(jq_ "j['phases'][2]['start_ms']")" = None ]
check report_marked_aborted grep -q 'ABORTED' "$OUT/report.html"
check terminal_says_aborted grep -q ABORTED "$TT/run.out"
cat "$TT/run.out" | sed 's/^/# /'
check recovery_inconclusive grep -Eq '^back +recovery .* INCONCLUSIVE$' "$TT/run.out"
check recovery_why_aborted grep -q 'INCONCLUSIVE back: the run was aborted while the fault acted (interrupted (SIGINT)): recovery after it was never observed' "$TT/run.out"
check record_says_aborted python3 -c "
import json, sys
k = json.load(open(sys.argv[1]))['keys']
r = [v for n, v in k.items() if n.endswith(':runner')][0]['value']
assert r['outcome'] == 'aborted' and 'SIGINT' in r['reason'] and float(r['stopped_ms']) > 0, r" "$OUT/record.json"
# the run is judged again from what it left: record.json alone, the same verdicts
"$FL" verify "$TT/s.ini" --record "$OUT/record.json" >"$TT/again.out" 2>&1; rc2=$?
sed 's/^/# again: /' "$TT/again.out"
check record_json_exit_3 [ "$rc2" = 3 ]
check record_json_recovery_inconclusive grep -q 'INCONCLUSIVE back: the run was aborted while the fault acted' "$TT/again.out"
check record_json_says_aborted grep -q 'was aborted: interrupted (SIGINT)' "$TT/again.out"

# bad scenarios: refused before anything starts
cat >"$TT/bad1.ini" <<INI
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[phase inject]
duration = 5s
faults = nope
INI
out=$("$FL" run "$TT/bad1.ini" --out "$TT/b1" 2>&1); rc=$?
check bad_fault_name_exit_2 [ "$rc" = 2 ]
check bad_fault_name_line bash -c "echo '$out' | grep -q 'bad1.ini:6: faults: no \[fault nope\]'"
printf '[scenario]\nname = x\nloud = y\n[phase a]\nduration = 1s\n' >"$TT/bad2.ini"
out=$("$FL" check "$TT/bad2.ini" 2>&1); rc=$?
check unknown_scenario_key_exit_2 [ "$rc" = 2 ]
check unknown_scenario_key_line bash -c "echo '$out' | grep -q 'bad2.ini:3: unknown key'"
printf '[scenario]\nname = x\n[phase a]\nfaults =\n' >"$TT/bad3.ini"
out=$("$FL" check "$TT/bad3.ini" 2>&1); rc=$?
check phase_without_duration [ "$rc" = 2 ] 
case "$out" in *"bad3.ini:3: [phase a] is missing 'duration'"*) pass phase_without_duration_line ;; *) fail phase_without_duration_line "$out" ;; esac
printf '[scenario]\nname = x\n[phase a]\nduration = soon\n' >"$TT/bad4.ini"
out=$("$FL" check "$TT/bad4.ini" 2>&1); rc=$?
check bad_duration_line bash -c "[ $rc = 2 ] && echo '$out' | grep -q 'bad4.ini:4: duration'"
"$FL" run --help >/dev/null; check help_exit_0 [ $? = 0 ]
"$FL" run >/dev/null 2>&1; check no_args_exit_2 [ $? = 2 ]
done_tests
