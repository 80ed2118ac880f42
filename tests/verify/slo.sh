#!/usr/bin/env bash
# check = slo with a real service behind an ingress proxy: the example service calls payments
# through an egress proxy whose calls hang during `inject`; the load reaches the service through
# `web` (role = ingress). With --timeout and --fallback the service keeps answering 200 (PASS);
# without the fallback it answers 504 along with its dependency (FAIL), judged both by
# `faultline run` and afterwards by `faultline verify`; with no timeout at all its callers give
# up (counted as aborted: FAIL). INCONCLUSIVE: a proxy that is not an
# ingress proxy, too few requests, a phase that never ran. Profile errors for role and slo keys.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

SVCBIN="$BUILD/examples/service"
[ -x "$SVCBIN" ] || { echo "not ok service_built # $SVCBIN missing (make examples)"; exit 1; }
PAY=$(free_port); PP=$(free_port); SVC=$(free_port); WP=$(free_port)
"$SVCBIN" --payments --listen 127.0.0.1:$PAY 2>"$TT/pay.log" &
_PIDS+=($!)
wait_port "$PAY" 10

start_service() {   # start_service ARGS...: (re)starts the service on $SVC
    [ -n "${SVC_PID:-}" ] && stop_pid "$SVC_PID"
    "$SVCBIN" --listen 127.0.0.1:$SVC --dep 127.0.0.1:$PP --timeout 300 "$@" 2>>"$TT/svc.log" &
    SVC_PID=$!
    _PIDS+=($SVC_PID)
    wait_port "$SVC" 10
}

# the load: 25 requests/s, open loop, callers give up after 2 s (vclient: one process, no fork
# per request, so a loaded machine does not starve it into too few requests)
cat >"$TT/load.sh" <<SH
exec "$(cd "$TBIN" && pwd)/vclient" --addr 127.0.0.1:$WP --rate 25 --duration 60 --http /checkout --timeout 2000
SH

scenario() {   # scenario FILE [REDIS]
    cat >"$1" <<INI
[scenario]
name = checkout degrades when payments hang
load = bash $TT/load.sh
${2:+redis = $2}
[proxy web]
listen = 127.0.0.1:$WP
upstream = 127.0.0.1:$SVC
mode = http
role = ingress
[proxy pay]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$PAY
mode = http
[fault pay-hang]
proxy = pay
type = hang
on_end = reset
[phase baseline]
duration = 2s
[phase inject]
duration = 4s
faults = pay-hang
[phase recover]
duration = 1s
[expect checkout-slo]
check = slo
proxy = web
phase = inject
min_success = 95%
max_latency = 1s
quantile = p95
[expect checkout-slo-fault-windows]
check = slo
proxy = web
min_success = 0.95
[expect slo-on-egress]
check = slo
proxy = pay
phase = inject
[expect slo-too-few]
check = slo
proxy = web
phase = inject
min_requests = 100000
[expect slo-whole-run]
check = slo
proxy = web
window = run
min_success = 50%
INI
}

# --- profile errors ---
cat >"$TT/bad_role.ini" <<INI
[proxy web]
listen = 127.0.0.1:$WP
upstream = 127.0.0.1:$SVC
role = ingress
INI
out=$("$FL" check "$TT/bad_role.ini" 2>&1); rc=$?
check role_ingress_needs_http eval '[ "$rc" = 2 ] && echo "$out" | grep -q "bad_role.ini:4: .*ingress needs an http proxy"'
scenario "$TT/s.ini"
check scenario_with_slo_checks "$FL" check "$TT/s.ini"
sed 's/^min_success = 95%/min_success = lots/' "$TT/s.ini" >"$TT/bad1.ini"
out=$("$FL" check "$TT/bad1.ini" 2>&1); rc=$?
check bad_min_success_line eval '[ "$rc" = 2 ] && echo "$out" | grep -q "bad1.ini:[0-9]*: .*min_success"'
sed 's/^phase = inject/phase = injekt/' "$TT/s.ini" >"$TT/bad2.ini"
out=$("$FL" check "$TT/bad2.ini" 2>&1); rc=$?
check unknown_phase_named eval '[ "$rc" = 2 ] && echo "$out" | grep -q "no \[phase injekt\]"'
sed 's/^window = run/window = sometimes/' "$TT/s.ini" >"$TT/bad3.ini"
out=$("$FL" check "$TT/bad3.ini" 2>&1); rc=$?
check bad_window eval '[ "$rc" = 2 ] && echo "$out" | grep -q "window"'

# --- the good service: a timeout and a fallback ---
start_service --fallback on
"$FL" run "$TT/s.ini" --out "$TT/good" >"$TT/good.out" 2>"$TT/good.err"
rc=$?
VOUT=$(cat "$TT/good.out"); echo "$VOUT" | sed 's/^/# /'
expect_verdict checkout-slo PASS good
expect_verdict checkout-slo-fault-windows PASS good
expect_verdict slo-on-egress INCONCLUSIVE
expect_verdict slo-too-few INCONCLUSIVE
expect_verdict slo-whole-run PASS good
check good_run_exit_3 [ "$rc" = 3 ]
check egress_why_says_not_ingress grep -q "pay is not an ingress proxy" "$TT/good.out"
# the record marks the role and the requests' ends
R="$TT/good/record.json"
check meta_has_role python3 -c "
import json,sys; j=json.load(open('$R'))
m=[v['value'] for k,v in j['keys'].items() if ':meta:' in k][0]
sys.exit(not (m.get('role:web')=='ingress' and m.get('role:pay')=='egress'))"
check request_events_have_end python3 -c "
import json,sys; j=json.load(open('$R'))
ev=[e for k,v in j['keys'].items() if k.endswith(':events:web') for e in v['value'] if e.get('kind')=='request']
ends=set(e.get('end') for e in ev)
print('# ends', ends, len(ev))
sys.exit(not (len(ev) > 20 and 'done' in ends and all(e.get('status') and 'total_ms' in e for e in ev if e.get('end')=='done')))"
grep -q "fallback=on" "$TT/svc.log"; check service_fallback_on [ $? = 0 ]

# --- the bad service: no fallback, fails along with payments (504 after its timeout) ---
start_redis
start_service --fallback off
scenario "$TT/s2.ini" "$REDIS_URL"
"$FL" run "$TT/s2.ini" --out "$TT/bad" --run slo-bad >"$TT/bad.out" 2>"$TT/bad.err"
rc=$?
VOUT=$(cat "$TT/bad.out"); echo "$VOUT" | sed 's/^/# /'
expect_verdict checkout-slo FAIL bad
expect_verdict checkout-slo-fault-windows FAIL bad
check bad_run_exit_1 [ "$rc" = 1 ]
check fail_names_5xx grep -q "requests failed during phase inject ([0-9]* 5xx" "$TT/bad.out"
# judged again afterwards from the record by faultline verify
vverify "$TT/s2.ini" slo-bad
expect_verdict checkout-slo FAIL verify
expect_verdict slo-on-egress INCONCLUSIVE verify
check verify_exit_1 [ "$VRC" = 1 ]
# no timeout at all: the service waits on the hung dependency, its callers give up (vclient --timeout 2000)
start_service --fallback on --timeout 0
"$FL" run "$TT/s2.ini" --out "$TT/nt" --run slo-nt >"$TT/nt.out" 2>"$TT/nt.err"
VOUT=$(cat "$TT/nt.out"); echo "$VOUT" | sed 's/^/# /'
expect_verdict checkout-slo FAIL no_timeout
check no_timeout_counts_aborted grep -q "aborted by the client" "$TT/nt.out"
# a phase the run never had
sed -e 's/^phase = inject/phase = recover2/' -e 's/^\[phase recover\]/[phase recover2]/' "$TT/s2.ini" >"$TT/s3.ini"
vverify "$TT/s3.ini" slo-bad
expect_verdict checkout-slo INCONCLUSIVE no_such_phase_in_record
done_tests
