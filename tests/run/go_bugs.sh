#!/usr/bin/env bash
# The seed's Go bugs, caught: each profiles/scenarios/go-*.ini scenario, run by `faultline run` against
# examples/go-service with its bug switched on (-bug=NAME) must FAIL, with the check that
# names the bug among the failures; against the fixed service (no -bug) it must PASS. Real
# processes: the Go service (built with Debian's golang-go), the C payments dependency
# (examples/service --payments), faultline run with its embedded Redis and the scenario's own
# curl load. Each run gets its own free ports (the profiles' fixed 14081/14001/14901 are
# rewritten in a copy, and so is go-no-graceful's pidfile), so four buggy runs go at once, then
# go-body-leak's alone, then the same for the fixed ones.
# Skipped (one `ok ... # skip` line) only when go is not installed.
. "$(dirname "$0")/../lib.sh"

if ! command -v go >/dev/null 2>&1; then
    echo "ok go_bugs # skip go is not installed (apt-get install golang-go; scripts/install-deps.sh does)"
    exit 0
fi
GOSVC="$BUILD/examples/go-service"
PAY="$BUILD/examples/service"
if [ ! -x "$GOSVC" ]; then
    timeout 300 make --no-print-directory BUILD="$BUILD" go-examples >"$TT/gobuild.log" 2>&1
fi
check go_service_built [ -x "$GOSVC" ]
[ -x "$GOSVC" ] || { tail -n 20 "$TT/gobuild.log" | sed 's/^/# /'; exit 1; }
[ -x "$PAY" ] || timeout 120 make --no-print-directory BUILD="$BUILD" "$PAY" >/dev/null 2>&1
check payments_built [ -x "$PAY" ]

# scenario  bug flag  expectation that must fail (check)  ... for the fixed service, all pass
# (runs profiles/scenarios/go-goroutine-leak.ini, profiles/scenarios/go-no-timeout.ini,
# profiles/scenarios/go-body-leak.ini, profiles/scenarios/go-no-breaker.ini and
# profiles/scenarios/go-no-graceful.ini end to end: tests/run/catalog.sh looks for these names)
SCEN=(
    "go-goroutine-leak goroutine-leak goroutines-come-back:probe"
    "go-no-timeout no-timeout payments-calls-time-out:timeout"
    "go-body-leak body-leak connections-released:recovery goroutines-come-back:probe"
    "go-no-breaker no-breaker breaker-opens-and-closes:breaker"
    "go-no-graceful no-graceful restart-is-graceful:graceful"
)
# go-no-graceful's [action] restarts the service (setsid, so not among _PIDS): its pidfile says which
kill_restarted() { local f; for f in "$TT"/*/svc.pid; do [ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null; done; }
trap 'kill_restarted; cleanup' EXIT

declare -A RPID
start_run() {  # NAME PROFILE BUGFLAG|"" -- payments, the Go service and faultline run, on free ports
    local name=$1 prof=$2 bug=$3 d="$TT/$1" svc pxy pay ing
    mkdir -p "$d"
    svc=$(free_port); pxy=$(free_port); pay=$(free_port); ing=$(free_port)
    while [ "$pxy" = "$svc" ]; do pxy=$(free_port); done
    while [ "$pay" = "$svc" ] || [ "$pay" = "$pxy" ]; do pay=$(free_port); done
    while [ "$ing" = "$svc" ] || [ "$ing" = "$pxy" ] || [ "$ing" = "$pay" ]; do ing=$(free_port); done
    sed -e "s/127\.0\.0\.1:14081/127.0.0.1:$svc/g" -e "s/127\.0\.0\.1:14001/127.0.0.1:$pxy/g" \
        -e "s/127\.0\.0\.1:14901/127.0.0.1:$pay/g" -e "s/127\.0\.0\.1:14082/127.0.0.1:$ing/g" \
        -e "s|/tmp/faultline-go-service\.pid|$d/svc.pid|g" "profiles/scenarios/$prof.ini" >"$d/scenario.ini"
    "$PAY" --payments --listen "127.0.0.1:$pay" >"$d/payments.log" 2>&1 &
    _PIDS+=($!)
    local extra=()   # the command lines the profiles' headers give
    [ "$prof" = go-no-graceful ] && extra=(-timeout 3s -max-concurrency 64 -handover "$d/ho.sock")
    "$GOSVC" -listen "127.0.0.1:$svc" -dep "http://127.0.0.1:$pxy/pay" -pidfile "$d/svc.pid" "${extra[@]}" ${bug:+-bug "$bug"} >"$d/service.log" 2>&1 &
    _PIDS+=($!)
    wait_port "$pay" 10 && wait_port "$svc" 10 || { echo "# $name: service or payments did not start"; cat "$d"/*.log | head -5; }
    timeout 90 "$FL" run "$d/scenario.ini" --out "$d/out" >"$d/run.out" 2>"$d/run.err" &
    RPID[$name]=$!
    _PIDS+=($!)
}

verdict() {  # NAME EXPECTATION -> PASS/FAIL/INCONCLUSIVE from the run's journal
    jq -r --arg n "$2" '.verdicts[] | select(.name == $n) | .verdict' "$TT/$1/out/journal.json" 2>/dev/null
}

judge_round() {  # KIND (bug|fixed) SCENARIO-ENTRY...
    local kind=$1 s name prof rc exp ck e
    shift
    for s in "$@"; do
        set -- $s
        prof=$1; name="$prof-$kind"; shift 2
        wait "${RPID[$name]}"; rc=$?
        local fails0=$_FAILS
        if [ "$kind" = bug ]; then
            check "${prof}_buggy_exits_1" [ "$rc" = 1 ]
            for e in "$@"; do
                exp=${e%%:*}; ck=${e##*:}
                check "${prof}_buggy_${ck}_fails" eval "[ \"\$(verdict $name $exp)\" = FAIL ] && grep -Eq '^$exp +$ck .* FAIL\$' '$TT/$name/run.out'"
            done
        else
            check "${prof}_fixed_exits_0" [ "$rc" = 0 ]
            check "${prof}_fixed_all_pass" eval "[ \"\$(jq -r '[.verdicts[].verdict] | unique | join(\",\")' '$TT/$name/out/journal.json')\" = PASS ]"
        fi
        # the run's verdicts whenever a case of it failed (a buggy run exits 1 also when the
        # check that names its bug did not FAIL)
        if [ "$rc" != "$([ "$kind" = bug ] && echo 1 || echo 0)" ] || [ "$_FAILS" != "$fails0" ]; then
            sed -n '/^EXPECTATION/,$p' "$TT/$name/run.out" | sed "s/^/# $name: /"
            tail -n 3 "$TT/$name/run.err" | sed "s/^/# $name: /"
        fi
    done
}

T0=$(date +%s)
# go-body-leak runs in a round of its own, after the other four: its verdict reads how many
# connections the Go service holds to payments, and a fixed service's pool grows with the
# calls in flight at once (MaxIdleConnsPerHost 20): with ten processes of these runs at once
# beside a loaded machine, calls piled up and the fixed pool stayed at 4-5 against a baseline
# of 1 + slack 2 (twice in suite runs). The buggy one still leaks a connection per failed call.
ALONE="go-body-leak"
SCEN_A=() SCEN_B=()
for s in "${SCEN[@]}"; do case $s in "$ALONE "*) SCEN_B+=("$s");; *) SCEN_A+=("$s");; esac; done
for s in "${SCEN_A[@]}"; do set -- $s; start_run "$1-bug" "$1" "$2"; done
judge_round bug "${SCEN_A[@]}"
for s in "${SCEN_B[@]}"; do set -- $s; start_run "$1-bug" "$1" "$2"; done
judge_round bug "${SCEN_B[@]}"
kill_restarted
T1=$(date +%s)
for s in "${SCEN_A[@]}"; do set -- $s; start_run "$1-fixed" "$1" ""; done
judge_round fixed "${SCEN_A[@]}"
for s in "${SCEN_B[@]}"; do set -- $s; start_run "$1-fixed" "$1" ""; done
judge_round fixed "${SCEN_B[@]}"
kill_restarted
T2=$(date +%s)
echo "# buggy round $((T1 - T0))s, fixed round $((T2 - T1))s"

# the goroutine leak shown with the code that leaks: the grown stack down to main.go's line,
# in the terminal, the journal and report.html
d="$TT/go-goroutine-leak-bug"
check leak_detail_terminal grep -Eq '^    \+[0-9]+ \(.*main\.main\.func[0-9.]+ \(faultline\.example/go-service/main\.go:[0-9]+\)' "$d/run.out"
check leak_detail_journal eval "jq -r '.verdicts[] | select(.name == \"goroutines-come-back\") | .detail[]' '$d/out/journal.json' | grep -q 'net/http.(\*persistConn).roundTrip'"
check leak_detail_report grep -q 'goroutine stacks that grew' "$d/out/report.html"
# body-leak: the transport's per-connection goroutines are what grew
check bodyleak_detail_readloop grep -q 'net/http.(\*persistConn).readLoop' "$TT/go-body-leak-bug/run.out"
# no-graceful: the restart action ran in both, and the buggy one cut requests in flight
action_ok() { [ "$(jq -r '.actions[0].exit_status' "$TT/go-no-graceful-$1/out/journal.json" 2>/dev/null)" = 0 ]; }
check graceful_action_ran eval 'action_ok bug && action_ok fixed'
for k in bug fixed; do
    action_ok "$k" && continue
    # what the action did: its journal entry (exit status or signal, times, stopped), its output
    # (restart.sh's), the restarted instance's log and the old instance's
    d="$TT/go-no-graceful-$k"
    jq -c '.actions[0] | del(.output)' "$d/out/journal.json" 2>&1 | sed "s/^/# $k action: /"
    jq -r '.actions[0].output // empty' "$d/out/journal.json" 2>&1 | sed "s/^/# $k action output: /"
    tail -n 5 "$d/svc.pid.log" 2>&1 | sed "s/^/# $k new instance: /"
    tail -n 5 "$d/service.log" 2>&1 | sed "s/^/# $k old instance: /"
done
check nograceful_names_in_flight grep -Eq 'FAIL restart-is-graceful: .*in flight at its start did not complete' "$TT/go-no-graceful-bug/run.out"
# the handover itself (examples/go-service/handover.go), deterministically: a connection made
# while no instance accepts (the old one stopped accepting on SIGTERM, the new one is not
# started yet) waits in the socket's queue and the new instance answers it; without -handover
# the old instance closes the socket once drained and the same connection is refused
ho_probe() {  # yes|no -> "CURL_EXIT HTTP_CODE" of a request sent between the two instances
    local d="$TT/ho-$1" port a b c args=()
    mkdir -p "$d"; port=$(free_port)
    [ "$1" = yes ] && args=(-handover "$d/ho.sock")
    "$GOSVC" -listen "127.0.0.1:$port" -dep http://127.0.0.1:9/ "${args[@]}" >"$d/old.log" 2>&1 &
    a=$!
    wait_port "$port" 10 || { kill -KILL "$a" 2>/dev/null; echo "no_listener"; return; }
    kill -TERM "$a"
    wait_for 5 grep -q 'SIGTERM: draining' "$d/old.log"
    [ "$1" = no ] && wait_for 5 grep -q 'stopped' "$d/old.log"
    curl -s -m 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz" >"$d/code" 2>/dev/null &
    c=$!
    sleep 0.5
    "$GOSVC" -listen "127.0.0.1:$port" -dep http://127.0.0.1:9/ "${args[@]}" >"$d/new.log" 2>&1 &
    b=$!
    wait "$c"; local res="$? $(cat "$d/code")"
    # this runs in $(...), a subshell: its _PIDS never reach cleanup, so it ends its own
    # instances (the successor with -handover waits for a successor of its own on SIGTERM)
    [ "$1" = yes ] && wait_for 10 grep -q stopped "$d/old.log"
    kill -KILL "$a" "$b" 2>/dev/null; wait "$a" "$b" 2>/dev/null
    echo "$res"
}
r=$(ho_probe yes)
check handover_queued_answered_by_successor [ "$r" = "0 200" ]
check handover_logged eval "grep -q 'handed to a successor' '$TT/ho-yes/old.log' && grep -q 'took the listening socket' '$TT/ho-yes/new.log'"
check handover_old_exits wait_for 10 eval "grep -q stopped '$TT/ho-yes/old.log'"
r=$(ho_probe no)
check no_handover_refused [ "$r" = "7 000" ]
# a predecessor gone between the successor's handover connect and its answer (stopped, then
# killed with the connection still queued): the successor binds the address instead of exiting.
# That instant is real: -bug=no-graceful exits at once on SIGTERM, and on a loaded machine
# restart.sh's new instance sometimes connected just before (graceful_action_ran failed: the
# new instance was gone, the action waited for it until the run's end)
d="$TT/ho-vanish"; mkdir -p "$d"; port=$(free_port)
"$GOSVC" -listen "127.0.0.1:$port" -dep http://127.0.0.1:9/ -handover "$d/ho.sock" >"$d/old.log" 2>&1 &
a=$!; _PIDS+=($a)
wait_for 10 grep -q 'listening on' "$d/old.log"
kill -STOP "$a"
"$GOSVC" -listen "127.0.0.1:$port" -dep http://127.0.0.1:9/ -handover "$d/ho.sock" >"$d/new.log" 2>&1 &
b=$!; _PIDS+=($b)
# the successor's connection is queued on the stopped instance's unix socket: a second entry
wait_for 10 eval "[ \"\$(grep -c ' $d/ho.sock\$' /proc/net/unix)\" -ge 2 ]"
kill -KILL "$a"; wait "$a" 2>/dev/null
check handover_vanished_binds wait_for 10 grep -q "binding 127.0.0.1:$port instead" "$d/new.log"
check handover_vanished_serves eval "[ \"\$(curl -s -m 5 http://127.0.0.1:$port/healthz)\" = ok ]"
kill -KILL "$b" 2>/dev/null; wait "$b" 2>/dev/null
# the fixed runs carry no stack detail (they passed)
check fixed_no_detail eval "! grep -q 'goroutine stacks that grew' '$TT/go-goroutine-leak-fixed/run.out'"
done_tests
