#!/usr/bin/env bash
# [action NAME] in scenarios and check = graceful, with the example service behind an ingress
# proxy: an action restarts the service mid-phase (SIGTERM, wait, start again). With
# --graceful on it stops accepting and finishes the requests in flight (PASS); with --graceful
# off it exits at once and the requests in flight are cut (FAIL, naming the count). Also: action
# output and exit status in journal.json, a timeout, bounded output, the marker in report.html,
# Ctrl-C killing a running action, INCONCLUSIVE cases and bad [action] sections.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../verify/common.bash"

SVCBIN="$(cd "$(dirname "$BUILD/examples/service")" && pwd)/service"
[ -x "$SVCBIN" ] || { echo "not ok service_built # $SVCBIN missing (make examples)"; exit 1; }
PAY=$(free_port); PP=$(free_port); SVC=$(free_port); WP=$(free_port)
"$SVCBIN" --payments --listen 127.0.0.1:$PAY 2>"$TT/pay.log" &
_PIDS+=($!)
wait_port "$PAY" 10
jq_() { python3 -c "import json,sys; j=json.load(open('$1')); print($2)"; }

# the restart action: TERM the running instance, wait until it is gone, start a new one
cat >"$TT/restart.sh" <<'SH'
#!/bin/bash
# restart.sh PIDFILE PORT SERVICE-ARGS...
pidf=$1; port=$2; shift 2
pid=$(cat "$pidf")
kill -TERM "$pid"
for i in $(seq 1 250); do
    st=$(awk '/^State:/ {print $2}' /proc/$pid/status 2>/dev/null)
    [ -z "$st" ] || [ "$st" = Z ] && break
    sleep 0.02
done
echo "old instance $pid gone"
setsid "$@" >>"$(dirname "$pidf")/svc.log" 2>&1 </dev/null &
echo $! >"$pidf"
for i in $(seq 1 150); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.02; done
echo "new instance $(cat "$pidf") listening"
SH

cat >"$TT/load.sh" <<SH
while sleep 0.04; do curl -s -m 3 -o /dev/null http://127.0.0.1:$WP/checkout & done
SH

scenario() {   # scenario FILE GRACEFUL(on|off)
    cat >"$1" <<INI
[scenario]
name = restart under load
load = bash $TT/load.sh
redis = $REDIS_URL
[proxy web]
listen = 127.0.0.1:$WP
upstream = 127.0.0.1:$SVC
mode = http
role = ingress
[proxy pay]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$PAY
mode = http
[fault pay-slow]
proxy = pay
type = latency
delay = 400ms
[phase baseline]
duration = 1s
[phase deploy]
duration = 3s
[phase after]
duration = 1500ms
[action restart]
at = deploy+500ms
run = bash $TT/restart.sh $TT/svc.pid $SVC $SVCBIN --listen 127.0.0.1:$SVC --dep 127.0.0.1:$PP --timeout 2000 --graceful $2
timeout = 10s
[expect restart-is-graceful]
check = graceful
proxy = web
action = restart
settle = 1s
[expect graceful-on-egress]
check = graceful
proxy = pay
action = restart
INI
}

start_service() {   # start_service GRACEFUL
    "$SVCBIN" --listen 127.0.0.1:$SVC --dep 127.0.0.1:$PP --timeout 2000 --graceful "$1" 2>>"$TT/svc.log" &
    echo $! >"$TT/svc.pid"
    wait_port "$SVC" 10
}
stop_service() { local p; p=$(cat "$TT/svc.pid" 2>/dev/null) && [ -n "$p" ] && stop_pid "$p"; }
trap 'stop_service; cleanup' EXIT

# --- bad [action] sections: PATH:LINE: reason, exit 2 ---
start_redis
scenario "$TT/s.ini" on
check scenario_with_action_accepted "$FL" check "$TT/s.ini"
bad() {   # bad NAME SED-EXPR PATTERN
    sed "$2" "$TT/s.ini" >"$TT/$1.ini"
    local out rc
    out=$("$FL" check "$TT/$1.ini" 2>&1); rc=$?
    echo "# $out"
    if [ "$rc" = 2 ] && echo "$out" | grep -q "$1.ini:[0-9]*: .*$3"; then pass "bad_action_$1"; else fail "bad_action_$1" "rc=$rc $out"; fi
}
bad unknown_phase 's/^at = deploy+500ms/at = deploi+500ms/' "no \[phase deploi\]"
bad bad_offset 's/^at = deploy+500ms/at = deploy+5x/' "at: '5x' is not a duration"
bad after_end 's/^at = deploy+500ms/at = after+9s/' "falls after the last phase ends"
bad before_start 's/^at = deploy+500ms/at = baseline-1s/' "falls before the run starts"
bad no_run '/^run = /d' "missing 'run'"
bad no_at '/^at = /d' "missing 'at'"
bad unknown_key 's/^timeout = 10s/timeout = 10s\nretries = 3/' "unknown key"
bad bad_timeout 's/^timeout = 10s/timeout = soon/' "timeout:"
bad graceful_unknown_action 's/^action = restart$/action = restrat/' "no \[action restrat\]"
out=$(printf '[action x]\nat = a\nrun = true\n[proxy p]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n' >"$TT/nophase.ini"; "$FL" check "$TT/nophase.ini" 2>&1); rc=$?
check action_needs_phases eval '[ "$rc" = 2 ] && echo "$out" | grep -q "nophase.ini:1: .*needs a scenario with \[phase\]"'

# --- graceful service: in-flight requests finish, nothing is cut ---
start_service on
"$FL" run "$TT/s.ini" --out "$TT/good" --run act-good >"$TT/good.out" 2>"$TT/good.err"
rc=$?
VOUT=$(cat "$TT/good.out"); echo "$VOUT" | sed 's/^/# /'; sed 's/^/# err: /' "$TT/good.err" | grep -i action
expect_verdict restart-is-graceful PASS graceful_service
expect_verdict graceful-on-egress INCONCLUSIVE
J="$TT/good/journal.json"
check journal_has_action [ "$(jq_ "$J" "j['actions'][0]['name']")" = restart ]
check action_exit_0 [ "$(jq_ "$J" "j['actions'][0].get('exit_status')")" = 0 ]
check action_output_in_journal eval 'jq_ "$J" "j[\"actions\"][0][\"output\"]" | grep -q "new instance .* listening"'
d=$(jq_ "$J" "round(j['actions'][0]['start_ms'] - j['phases'][1]['start_ms'])")
check action_started_at_deploy_plus_500ms within "$d" 400 900
check action_end_after_start [ "$(jq_ "$J" "j['actions'][0]['end_ms'] > j['actions'][0]['start_ms']")" = True ]
check action_in_record eval '[ "$(redis-cli -s "$REDIS_SOCK" xlen fl:run:act-good:actions)" = 2 ]'
check action_marker_in_report eval 'grep -q "class=\"ac\"><title>action restart" "$TT/good/report.html" && grep -q "class=\"acl\">restart<" "$TT/good/report.html"'
check service_drained grep -q "draining" "$TT/svc.log"
stop_service

# --- no graceful shutdown: the old instance exits at once, requests in flight are cut ---
start_service off
scenario "$TT/s2.ini" off
"$FL" run "$TT/s2.ini" --out "$TT/bad" --run act-bad >"$TT/bad.out" 2>"$TT/bad.err"
rc=$?
VOUT=$(cat "$TT/bad.out"); echo "$VOUT" | sed 's/^/# /'
expect_verdict restart-is-graceful FAIL no_graceful_shutdown
check bad_exit_1 [ "$rc" = 1 ]
check fail_names_count grep -Eq "FAIL restart-is-graceful: [1-9][0-9]* requests? failed across action restart" "$TT/bad.out"
stop_service
# judged again by faultline verify; an action that never ran is INCONCLUSIVE
vverify "$TT/s2.ini" act-bad
expect_verdict restart-is-graceful FAIL verify
cat >"$TT/never.ini" <<INI
[expect never-ran]
check = graceful
proxy = web
action = rollout
INI
vverify "$TT/never.ini" act-bad
expect_verdict never-ran INCONCLUSIVE action_never_ran
check never_ran_why eval 'echo "$VOUT" | grep -q "action rollout never ran"'

# --- actions without a service: output, exit status, timeout, bounded output; no request
#     crosses a window -> INCONCLUSIVE ---
T1=$(free_port)
cat >"$TT/m.ini" <<INI
[scenario]
name = actions alone
load = for i in 1 2 3; do curl -s -m 1 -o /dev/null http://127.0.0.1:$T1/x; done
[proxy web]
listen = 127.0.0.1:$T1
upstream = 127.0.0.1:$PAY
mode = http
role = ingress
[phase p]
duration = 2500ms
[action hello]
at = p
run = echo hello out; echo hello err >&2; exit 3
[action slow]
at = p+100ms
run = sleep 30
timeout = 500ms
[action chatty]
at = p+200ms
run = head -c 100000 /dev/zero | tr '\\\\0' x
[action late]
at = p+1500ms
run = true
[expect quiet-window]
check = graceful
proxy = web
action = late
settle = 200ms
INI
check scenario_m_valid "$FL" check "$TT/m.ini"
t0=$(date +%s%3N)
"$FL" run "$TT/m.ini" --out "$TT/m" >"$TT/m.out" 2>"$TT/m.err"
t1=$(date +%s%3N)
VOUT=$(cat "$TT/m.out"); echo "$VOUT" | sed 's/^/# /'
J="$TT/m/journal.json"
check hello_exit_3 [ "$(jq_ "$J" "j['actions'][0].get('exit_status')")" = 3 ]
check hello_stdout_and_stderr eval 'o=$(jq_ "$J" "j[\"actions\"][0][\"output\"]"); echo "$o" | grep -q "hello out" && echo "$o" | grep -q "hello err"'
check slow_timed_out [ "$(jq_ "$J" "j['actions'][1]['timed_out']")" = True ]
check slow_killed_by_signal [ "$(jq_ "$J" "j['actions'][1].get('signal')")" != None ]
d=$(jq_ "$J" "round(j['actions'][1]['end_ms'] - j['actions'][1]['start_ms'])")
check slow_killed_after_timeout within "$d" 450 2500
check chatty_bounded [ "$(jq_ "$J" "len(j['actions'][2]['output'])")" = 65536 ]
check chatty_counted [ "$(jq_ "$J" "j['actions'][2]['output_bytes']")" = 100000 ]
check chatty_truncated [ "$(jq_ "$J" "j['actions'][2]['output_truncated']")" = True ]
check run_not_delayed_by_actions within $((t1 - t0)) 2400 9000
expect_verdict quiet-window INCONCLUSIVE no_request_crossed
check quiet_why eval 'echo "$VOUT" | grep -q "0 requests crossed the window of action late"'

# --- Ctrl-C kills a running action's whole process group ---
cat >"$TT/c.ini" <<INI
[scenario]
name = interrupted
[proxy web]
listen = 127.0.0.1:$T1
upstream = 127.0.0.1:$PAY
[phase p]
duration = 20s
[action long]
at = p+100ms
run = sleep 120 & echo \$! >$TT/child.pid; wait
timeout = 60s
INI
"$FL" run "$TT/c.ini" --out "$TT/c" >"$TT/c.out" 2>"$TT/c.err" &
RUNPID=$!
wait_for 10 test -s "$TT/child.pid"
CH=$(cat "$TT/child.pid" 2>/dev/null)
check action_child_running eval 'kill -0 "$CH" 2>/dev/null'
kill -INT $RUNPID
wait_for 15 eval '! kill -0 $RUNPID 2>/dev/null'
wait $RUNPID; rc=$?
check interrupted_exit_3 [ "$rc" = 3 ]
alive() { local st; st=$(awk '/^State:/ {print $2}' /proc/$1/status 2>/dev/null); [ -n "$st" ] && [ "$st" != Z ]; }
check no_child_left wait_for 5 eval '! alive "$CH"'
check stopped_in_journal eval '[ "$(jq_ "$TT/c/journal.json" "j[\"actions\"][0].get(\"stopped\",\"\")")" = "interrupted (SIGINT)" ]'
done_tests
