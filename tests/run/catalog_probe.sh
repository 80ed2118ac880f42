#!/usr/bin/env bash
# profiles/scenarios/goroutine-growth.ini end to end: `faultline run` alone samples the service's own
# /metrics (check = probe) during the whole run. The example service with a deadline on its
# payments calls comes back to baseline (PASS); without one, its stuck calls stay counted (FAIL,
# the probe check named). Phases at 0.25x, the recovery's `within` cut to 4 s to match.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX='s/^within = 15s/within = 4s/'
cat_pair profiles/scenarios/goroutine-growth.ini probe 0.25 "--timeout 500" "--timeout 0"
cat_expect probe-good workers-recover PASS
check probe_good_sampled bash -c "grep -q 'probe:workers-recover' '$OUTD/record.json'"
cat_expect probe-buggy workers-recover FAIL
check probe_buggy_names_leak bash -c "grep -q 'leak' '$OUTD/journal.json'"
n=$(python3 -c "
import json; r=json.load(open('$OUTD/record.json'))
k=[v for n,v in r['keys'].items() if n.endswith(':probe:workers-recover')]
print(len(k[0]['value']) if k else 0)")
check probe_sampled_every_second_whole_run [ "$n" -ge 12 ]  # a 15 s run, interval 1s
# every call still held at the end is recorded as such (proxy_close_all closed only the first)
h=$(python3 -c "
import json; r=json.load(open('$OUTD/record.json'))
print(sum(1 for n,v in r['keys'].items() if ':events:' in n for e in v['value'] if e.get('held_at_end') == '1'))")
check every_held_call_recorded_at_end [ "$h" -ge 20 ]
check no_sampler_left bash -c "! pgrep -f '[f]aultline run $TT' >/dev/null"

# Ctrl-C in the middle of the fault: the sampler child (a fork of faultline, not exec'd) is gone
# with the run, the verdict is never a pass, the partial report is written
SP2=$(free_port); PX2=$(free_port)
sed -e "s/127\.0\.0\.1:14080/127.0.0.1:$SP2/g; s/127\.0\.0\.1:14001/127.0.0.1:$PX2/g; s/127\.0\.0\.1:14901/127.0.0.1:$PAY/g" \
    profiles/scenarios/goroutine-growth.ini >"$TT/int.ini"
"$SVC" --listen 127.0.0.1:$SP2 --dep 127.0.0.1:$PX2 --timeout 500 2>/dev/null &
_PIDS+=($!)
wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$SP2/healthz"
"$FL" run "$TT/int.ini" --scale 0.2 --out "$TT/out-int" >"$TT/int.out" 2>"$TT/int.err" &
R=$!
_PIDS+=($R)
sampler_pid() { for c in $(pgrep -P "$R"); do [ "$(readlink /proc/$c/exe)" = "$(readlink -f "$FL")" ] && echo "$c"; done; }
wait_for 10 bash -c "grep -q 'phase 2/3 inject' '$TT/int.err'"
S=$(sampler_pid)
check sampler_child_running [ -n "$S" ]
kill -INT "$R"
for _ in $(seq 1 200); do kill -0 "$R" 2>/dev/null || break; sleep 0.05; done
wait "$R"; rc=$?
check interrupted_probe_run_not_a_pass [ "$rc" = 3 -o "$rc" = 1 ]
check interrupted_sampler_gone bash -c "[ -n '$S' ] && ! kill -0 '$S' 2>/dev/null"
check interrupted_report_written grep -q '"aborted": true' "$TT/out-int/journal.json"
done_tests
