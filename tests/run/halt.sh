#!/usr/bin/env bash
# Stop conditions: `halt_if` in [scenario]. A real service (the example service, no fallback:
# it answers 502 when payments fails) behind an ingress proxy, payments behind a proxy whose
# http_error 503 fault acts in a 20 s inject phase; 20 calls/s through the ingress. The service's
# error rate crosses 50% over 2s soon after the fault starts:
#   - the run halts: every fault is removed within 1 s of the halt, the load stopped, the run
#     ends long before its 26 s;
#   - the record says so (R:runner outcome = halted, the reason), and journal.json (halted,
#     halt_reason), the terminal and report.html;
#   - the verdict is INCONCLUSIVE with that reason (a slo that would pass on the baseline alone
#     proves nothing); judging record.json again says the same.
# A probe condition (the sampled value of a [expect] probe) halts too. A run whose condition never
# holds (threshold 100%) runs its course. A bad halt_if is refused with PATH:LINE.
. "$(dirname "$0")/../lib.sh"

SVC=$BUILD/examples/service
PAY=$(free_port); SP=$(free_port); WP=$(free_port); PX=$(free_port)
"$SVC" --payments --listen 127.0.0.1:$PAY 2>"$TT/pay.log" &
_PIDS+=($!)
"$SVC" --listen 127.0.0.1:$SP --dep 127.0.0.1:$PX 2>"$TT/svc.log" &
_PIDS+=($!)
wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$PAY/healthz" || fail payments_start
wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$SP/healthz" || fail service_start
scenario() {   # THRESHOLD
    cat <<INI
[scenario]
name = halts on errors
load = exec "$TBIN/vclient" --addr 127.0.0.1:$WP --http /checkout --rate 20 --duration 60 --timeout 2000
halt_if = error_rate(web) > $1 over 2s or probe(nothing-yet) > 1000000
[proxy web]
listen = 127.0.0.1:$WP
upstream = 127.0.0.1:$SP
mode = http
role = ingress
[proxy pay]
listen = 127.0.0.1:$PX
upstream = 127.0.0.1:$PAY
mode = http
[fault pay-503]
proxy = pay
type = http_error
status = 503
[phase baseline]
duration = 3s
[phase inject]
duration = 20s
faults = pay-503
[phase recover]
duration = 3s
[expect callers-ok]
check = slo
proxy = web
window = run
min_success = 10%
[expect nothing-yet]
check = probe
url = http://127.0.0.1:$SP/metrics
metric = checkout_workers
within = 5s
INI
}
scenario 50% >"$TT/s.ini"
check check_accepts "$FL" check "$TT/s.ini"
t0=$(date +%s%3N)
"$FL" run "$TT/s.ini" --out "$TT/out" >"$TT/run.out" 2>"$TT/run.err"; rc=$?
t1=$(date +%s%3N)
sed 's/^/# /' "$TT/run.out"; grep -i halt "$TT/run.err" | sed 's/^/# err: /'
check halted_exit_3 [ "$rc" = 3 ]
check halted_early within $((t1 - t0)) 0 15000
J="$TT/out/journal.json"
jq_() { python3 -c "import json,sys; j=json.load(open('$J')); print($1)"; }
check journal_halted [ "$(jq_ "j['halted']")" = True ]
check journal_reason bash -c "echo \"\$1\" | grep -q 'halt_if error_rate(web) > 50% over 2s ([0-9]*% of [0-9]* requests failed)'" _ "$(jq_ "j['halt_reason']")"
# every fault removed within 1 s of the halt; the halt within a few seconds of the fault's start
check faults_removed_within_1s [ "$(jq_ "all(w['end_ms'] and 0 <= w['end_ms'] - j['halted_ms'] < 1000 for w in j['faults'])")" = True ]
check halt_soon_after_fault [ "$(jq_ "j['halted_ms'] - j['faults'][0]['start_ms'] < 6000")" = True ]
check recover_phase_never_ran [ "$(jq_ "j['phases'][2]['start_ms']")" = None ]
check verdict_inconclusive [ "$(jq_ "j['verdicts'][0]['verdict']")" = INCONCLUSIVE ]
check verdict_says_halted bash -c "echo \"\$1\" | grep -q 'the run was halted by a stop condition (halt_if error_rate(web)'" _ "$(jq_ "j['verdicts'][0]['why']")"
check terminal_says_halted grep -q '^HALTED halts on errors: exit 3' "$TT/run.out"
check table_note_halted grep -q 'was HALTED: halt_if error_rate(web)' "$TT/run.out"
check report_says_halted grep -q 'HALTED' "$TT/out/report.html"
check record_says_halted python3 -c "
import json, sys
k = json.load(open(sys.argv[1]))['keys']
r = [v for n, v in k.items() if n.endswith(':runner')][0]['value']
assert r['outcome'] == 'halted' and 'error_rate(web)' in r['reason'], r" "$TT/out/record.json"
"$FL" verify "$TT/s.ini" --record "$TT/out/record.json" >"$TT/again.out" 2>&1; rc2=$?
check record_json_inconclusive bash -c "[ $rc2 = 3 ] && grep -q 'INCONCLUSIVE callers-ok: the run was halted' '$TT/again.out'"

# a condition that never holds: the run runs its course
scenario 100% >"$TT/s2.ini"
sed -i 's/^duration = 20s$/duration = 3s/' "$TT/s2.ini"
"$FL" run "$TT/s2.ini" --out "$TT/out2" >"$TT/run2.out" 2>&1
check not_halted [ "$(python3 -c "import json; print(json.load(open('$TT/out2/journal.json'))['halted'])")" = False ]
check not_halted_recover_ran [ "$(python3 -c "import json; print(json.load(open('$TT/out2/journal.json'))['phases'][2]['start_ms'] is not None)")" = True ]

# a probe condition: the service's own number (sampled into the record) crosses it. The gauge
# (checkout_workers, calls in flight) is 0 or more: its first sample may already see a call.
scenario 50% | sed 's|^halt_if = .*|halt_if = probe(nothing-yet) >= 0|' >"$TT/s3.ini"
"$FL" run "$TT/s3.ini" --out "$TT/out3" >"$TT/run3.out" 2>&1; rc3=$?
J3="$TT/out3/journal.json"
check probe_halted bash -c "[ $rc3 = 3 ] && python3 -c \"import json; j = json.load(open('$J3')); import re; assert j['halted'] and re.search(r'probe\\(nothing-yet\\) >= 0 \\(probe nothing-yet = [0-9]+\\)', j['halt_reason']), j.get('halt_reason')\""

# bad conditions: PATH:LINE and why
bad() {   # NAME CONDITION WANT
    scenario 50% | sed "s|^halt_if = .*|halt_if = $2|" >"$TT/b.ini"
    local out; out=$("$FL" check "$TT/b.ini" 2>&1)
    if [ $? = 2 ] && echo "$out" | grep -q "b.ini:4: halt_if: .*$3"; then pass "$1"; else fail "$1" "$out"; fi
}
bad bad_proxy 'error_rate(nope) > 50% over 2s' "no \\[proxy nope\\]"
bad bad_ratio 'error_rate(web) > 150% over 2s' "is not a ratio"
bad no_over 'error_rate(web) > 50%' "needs 'over DURATION'"
bad not_a_probe 'probe(callers-ok) > 5' "is not a probe"
bad unknown_condition 'latency(web) > 1s' "expected error_rate"
# a proxy that counts no requests (mode tcp) could never reach the rate's 5 requests: refused
{ scenario 50% | sed "s|^halt_if = .*|halt_if = error_rate(raw) > 50% over 2s|"; printf '[proxy raw]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$(free_port)" "$SP"; } >"$TT/b.ini"
out=$("$FL" check "$TT/b.ini" 2>&1); rc=$?
check tcp_proxy_refused bash -c '[ "$1" = 2 ] && grep -q "b.ini:4: halt_if: .*error_rate needs a proxy that sees requests .*\[proxy raw\] is mode tcp" <<<"$2"' _ "$rc" "$out"
done_tests
