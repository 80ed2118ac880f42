#!/usr/bin/env bash
# `faultline run` across a fleet (issue 23): one Redis (the fleet's and the record's), 4 daemons
# with [fleet] sections and labels (inst1, inst3 in zone a; inst2, inst4 in zone b), each with an
# http proxy `web` in front of one real upstream (the example payments service), all recording
# into run fleetrun-1. A scenario with `fleet = service=checkout,zone=a`:
#   - the phase's latency fault acts on inst1 and inst3 only (measured through the listeners),
#     "2 of 2 applied" for the add and the rm, in the terminal and journal.json;
#   - the record holds every instance's counters, and the verifier judges the run (PASS);
#   - halt_if error_rate(web) fires on an http_error fault: the runner sends a fleet kill (every
#     matching instance acks within 1 s, no fault left), the run ends HALTED (exit 3);
#   - kill -9 of the runner: the lease (3 s) ends the fault on every instance by itself;
#   - a fault that no instance can apply (no such proxy there): every verdict INCONCLUSIVE;
#   - a fleet scenario without a [fleet] section is refused with PATH:LINE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"

RUN=fleetrun-1
fleet_redis_start || { fail redis "redis did not start"; exit 1; }
UP=$(free_port)
"$BUILD/examples/service" --payments --listen 127.0.0.1:$UP 2>"$TT/up.log" &
_PIDS+=($!)
wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$UP/healthz" || { fail upstream "did not start"; exit 1; }

for i in 1 2 3 4; do
    APORT[$i]=$(free_port); PPORT[$i]=$(free_port)
    z=a; [ $((i % 2)) -eq 0 ] && z=b
    cat >"$TT/p$i.ini" <<INI
[faultline]
admin = 127.0.0.1:${APORT[$i]}
redis = $RURL
run = $RUN
instance = inst$i
[fleet]
redis = $RURL
key_file = $KEY
id = inst$i
service = checkout
zone = $z
[proxy web]
listen = 127.0.0.1:${PPORT[$i]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
INI
    start_fl "$TT/p$i.ini" "$TT/fl$i.log" || { fail "start_$i" "$(cat "$TT/fl$i.log")"; exit 1; }
    wait_port "${APORT[$i]}" 10
done
wait_for 10 eval '[ "$(n_up)" -ge 4 ]'
check four_up [ "$(n_up)" = 4 ]
get_ms() { curl -s -m 5 -o /dev/null -w '%{time_total}' "http://127.0.0.1:${PPORT[$1]}/healthz" | awk '{printf "%d", $1 * 1000}'; }

# scenario FAULT_SECTION PHASE_S EXTRA_SCENARIO_LINES: a fleet scenario (load on every listener)
scenario() {
    cat <<INI
[scenario]
name = across the fleet
fleet = service=checkout,zone=a
redis = $RURL
load = while :; do for p in ${PPORT[1]} ${PPORT[2]} ${PPORT[3]} ${PPORT[4]}; do curl -s -m 3 -o /dev/null http://127.0.0.1:\$p/healthz; done; sleep 0.02; done
${3:-}
[fleet]
redis = $RURL
key_file = $KEY
[proxy web]
listen = 127.0.0.1:${PPORT[1]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[proxy cache]
listen = 127.0.0.1:1
upstream = 127.0.0.1:$UP
$1
[phase baseline]
duration = 2s
[phase inject]
duration = ${2}s
faults = f
[phase recover]
duration = 2s
[expect served]
check = slo
proxy = web
window = run
min_success = 10%
INI
}
LAT=$'[fault f]\nproxy = web\ntype = latency\ndelay = 500ms'

# --- 1. the fault acts on the matching instances only; every instance records into the run
scenario "$LAT" 6 >"$TT/s1.ini"; chmod 600 "$TT/s1.ini"
"$FL" run "$TT/s1.ini" --out "$TT/o1" >"$TT/r1.out" 2>"$TT/r1.err" &
R=$!; _PIDS+=($R)
wait_for 15 grep -q 'fleet add web/f: 2 of 2 applied' "$TT/r1.err"
check add_2_of_2 grep -q 'fleet add web/f: 2 of 2 applied' "$TT/r1.err"
check slow_on_inst1 within "$(get_ms 1)" 450 3000
check slow_on_inst3 within "$(get_ms 3)" 450 3000
check fast_on_inst2 within "$(get_ms 2)" 0 300
check fast_on_inst4 within "$(get_ms 4)" 0 300
wait $R; rc=$?
check run_exit_0 [ $rc = 0 ]
check rm_2_of_2 grep -q 'fleet rm web/f: 2 of 2 applied' "$TT/r1.err"
check run_is_instances_run grep -q "run $RUN" "$TT/r1.err"
check journal_pick jqt '.fleet.targets | sort == ["inst1","inst3"]' "$TT/o1/journal.json"
check journal_acks jqt '[.fleet.commands[] | select(.op == "add" or .op == "rm") | .applied == 2 and .of == 2] == [true, true]' "$TT/o1/journal.json"
check no_fault_left bash -c "[ -z \"\$(curl -s $(admin 1)/faults | jq -r '.[].name')\" ] && [ -z \"\$(curl -s $(admin 3)/faults | jq -r '.[].name')\" ]"
n=0; for i in 1 2 3 4; do redis-cli -p "$RPORT" --scan --pattern "fl:run:$RUN:counters:web:inst$i" | grep -q . && n=$((n + 1)); done
check record_from_all_4 [ $n = 4 ]
check verdict_pass grep -q 'PASS' "$TT/r1.out"
"$FL" verify --live --run $RUN --redis "$RURL" "$TT/s1.ini" >"$TT/v1.out" 2>&1
check verify_reads_back grep -q 'served.*PASS' "$TT/v1.out"
check verdicts_on_instance_console jqt '.run == "'$RUN'" and .verdicts[0].name == "served" and .verdicts[0].verdict == "PASS"' <(curl -s "$(admin 3)/verdicts")

# --- 2. halt_if fires: a fleet kill, every fault gone within 1 s
ERR=$'[fault f]\nproxy = web\ntype = http_error\nstatus = 503'
scenario "$ERR" 30 "halt_if = error_rate(web) > 30% over 2s" >"$TT/s2.ini"; chmod 600 "$TT/s2.ini"
t0=$(date +%s)
"$FL" run "$TT/s2.ini" --out "$TT/o2" >"$TT/r2.out" 2>"$TT/r2.err"; rc=$?
check halt_exit_3 [ $rc = 3 ]
check halted_early [ $(( $(date +%s) - t0 )) -lt 25 ]
check halt_kill_said grep -q 'HALTED: fleet kill: 2 of 2 applied' "$TT/r2.err"
check halt_kill_in_journal jqt '.halted and ([.fleet.commands[] | select(.op == "kill")][0] | .applied == .of and .of == 2 and .ms < 1000)' "$TT/o2/journal.json"
check halt_killed_within_1s jqt '([.fleet.commands[] | select(.op == "kill")][0].at_ms - .halted_ms) < 1000' "$TT/o2/journal.json"
check halt_no_fault_left bash -c "for i in ${APORT[1]} ${APORT[3]}; do [ -z \"\$(curl -s http://127.0.0.1:\$i/faults | jq -r '.[] | select(.state != \"killed\") | .name')\" ] || exit 1; done"
check halt_inconclusive grep -q 'INCONCLUSIVE' "$TT/r2.out"
fleet_ctl resume >/dev/null 2>&1
for i in 1 3; do curl -s -X DELETE "$(admin $i)/faults/f" >/dev/null; done

# --- 3. kill -9 of the runner: the lease ends the fault on each instance
scenario "$LAT" 60 "fleet_lease = 3s" | sed '/^load = /d' >"$TT/s3.ini"; chmod 600 "$TT/s3.ini"
"$FL" run "$TT/s3.ini" --out "$TT/o3" >"$TT/r3.out" 2>"$TT/r3.err" &
R=$!; _PIDS+=($R)
wait_for 15 grep -q 'fleet add web/f: 2 of 2 applied' "$TT/r3.err"
sleep 3.5   # past one lease: the renewals keep it
check renewed_past_lease [ "$(faults_of 1)" = f ]
kill -9 $R; wait $R 2>/dev/null
t0=$(date +%s%N)
wait_for 6 bash -c "[ -z \"\$(curl -s $(admin 1)/faults | jq -r '.[].name')\" ] && [ -z \"\$(curl -s $(admin 3)/faults | jq -r '.[].name')\" ]"
check lease_ended_faults within $(( ($(date +%s%N) - t0) / 1000000 )) 0 4500
check lease_expired_logged grep -q 'event=fleet_lease_expired' "$TT/fl1.log"

# --- 4. applied on no instance: the verdicts are INCONCLUSIVE, saying why
NOPE=$'[fault f]\nproxy = cache\ntype = latency\ndelay = 100ms'
scenario "$NOPE" 2 >"$TT/s4.ini"; chmod 600 "$TT/s4.ini"
"$FL" run "$TT/s4.ini" --out "$TT/o4" >"$TT/r4.out" 2>"$TT/r4.err"; rc=$?
check none_applied_said grep -q "fleet add cache/f: 0 of 2 applied.*no proxy named 'cache'" "$TT/r4.err"
check none_applied_exit_3 [ $rc = 3 ]
check none_applied_inconclusive grep -q 'applied on no instance of the fleet' "$TT/r4.out"

# --- 5. a fleet scenario needs a [fleet] section
sed '/^\[fleet\]/,/^key_file/d' "$TT/s1.ini" >"$TT/s5.ini"; chmod 600 "$TT/s5.ini"
"$FL" check "$TT/s5.ini" >"$TT/c5.out" 2>&1; rc=$?
check no_fleet_section_refused bash -c "[ $rc = 2 ] && grep -q 's5.ini:3: fleet: a fleet run needs a \[fleet\] section' '$TT/c5.out'"
done_tests
