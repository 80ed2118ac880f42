#!/usr/bin/env bash
# `faultline run` across a fleet, a phase naming its faults per proxy: two daemons (inst1, inst2)
# with http proxies a and b in front of one real upstream, recording into one run. The scenario
# has [fault lat] on a (400 ms) and on b (1200 ms); phases base, b-slow (b/lat), both (b/lat,
# a/lat), a-slow (a/lat), after. A real client (curl, one call after another) through each
# instance's a and b:
#   - a's calls are slow only in both and a-slow, b's only in b-slow and both, on each instance
#     (the rm at the end of `both` names proxy b: a's lat, of the same name, stays);
#   - every fleet add and rm is applied on 2 of 2, the terminal and the journal saying PROXY/NAME;
#   - the journal's phases list a/lat and b/lat, its fault windows carry the proxy;
#   - the verdicts are per proxy (a latency SLO under 1 s: `fault = a/lat` PASSes, b/lat FAILs);
#   - no fault is left on either instance.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

RUN=fleetphase-1
fleet_redis_start || { fail redis "redis did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
declare -a PA PB
for i in 1 2; do
    APORT[$i]=$(free_port); PA[$i]=$(free_port); PB[$i]=$(free_port)
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
[proxy a]
listen = 127.0.0.1:${PA[$i]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[proxy b]
listen = 127.0.0.1:${PB[$i]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
INI
    start_fl "$TT/p$i.ini" "$TT/fl$i.log" || { fail "start_$i" "$(cat "$TT/fl$i.log")"; exit 1; }
    wait_port "${APORT[$i]}" 10
done
wait_for 10 eval '[ "$(n_up)" -ge 2 ]'
check two_up [ "$(n_up)" = 2 ]

cat >"$TT/calls.sh" <<'SH'
while :; do
    s=$(date +%s%3N)
    curl -s -o /dev/null -m 5 "http://127.0.0.1:$1/x"
    e=$(date +%s%3N)
    echo "$s $e" >>"$2"
    sleep 0.05
done
SH
mkdir -p "$TT/o"
for i in 1 2; do
    printf 'sh %s %s %s &\n' "$TT/calls.sh" "${PA[$i]}" "$TT/o/a$i.calls" "$TT/calls.sh" "${PB[$i]}" "$TT/o/b$i.calls"
done >"$TT/load.sh"
echo wait >>"$TT/load.sh"
cat >"$TT/s.ini" <<INI
[scenario]
name = one fault name, one phase each, across the fleet
fleet = service=checkout
redis = $RURL
load = sh $TT/load.sh
[fleet]
redis = $RURL
key_file = $KEY
[proxy a]
listen = 127.0.0.1:${PA[1]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[proxy b]
listen = 127.0.0.1:${PB[1]}
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[fault lat]
proxy = a
type = latency
delay = 400ms
[fault lat]
proxy = b
type = latency
delay = 1200ms
[phase base]
duration = 2s
[phase b-slow]
duration = 3s
faults = b/lat
[phase both]
duration = 3s
faults = b/lat, a/lat
[phase a-slow]
duration = 3s
faults = a/lat
[phase after]
duration = 2s
[expect a-under-1s]
check = slo
proxy = a
fault = a/lat
window = faults
max_latency = 1s
quantile = 90%
min_requests = 3
[expect b-under-1s]
check = slo
proxy = b
fault = b/lat
window = faults
max_latency = 1s
quantile = 90%
min_requests = 2
INI
chmod 600 "$TT/s.ini"
"$FL" run "$TT/s.ini" --out "$TT/o" >"$TT/r.out" 2>"$TT/r.err"; rc=$?
sed 's/^/# /' "$TT/r.out"
grep 'fleet \|error\|warning' "$TT/r.err" | sed 's/^/# stderr: /'
check run_exit_1 [ "$rc" = 1 ]
verdict() { awk -v n="$1" '$1 == n && NF > 2 { print $NF; exit }' "$2"; }
check a_pass [ "$(verdict a-under-1s "$TT/r.out")" = PASS ]
check b_fail [ "$(verdict b-under-1s "$TT/r.out")" = FAIL ]
check acks_2_of_2 jqt '[.fleet.commands[] | select(.op == "add" or .op == "rm") | [.op, .fault, .phase, .applied, .of]]
    == [["add","b/lat","b-slow",2,2], ["add","a/lat","both",2,2], ["rm","b/lat","both",2,2], ["rm","a/lat","a-slow",2,2]]' "$TT/o/journal.json"
check terminal_says_proxy grep -q "fleet rm b/lat: 2 of 2 applied" "$TT/r.err"
check journal_phases jqt '[.phases[] | .faults] == [[], ["b/lat"], ["b/lat", "a/lat"], ["a/lat"], []]' "$TT/o/journal.json"
check journal_windows_per_proxy jqt '[.faults[] | [.proxy, .fault]] | unique == [["a","lat"],["b","lat"]]' "$TT/o/journal.json"
check no_fault_left bash -c "[ -z \"\$(curl -s $(admin 1)/faults | jq -r '.[].name')\" ] && [ -z \"\$(curl -s $(admin 2)/faults | jq -r '.[].name')\" ]"
for c in a1 b1 a2 b2; do
    check client_$c python3 - "$TT/o" "$c" <<'PY'
import json, sys
out, c = sys.argv[1], sys.argv[2]
px = c[0]
j = json.load(open(out + '/journal.json'))
ph = {p['name']: p for p in j['phases']}
# a/lat acts from both to the end of a-slow, b/lat from b-slow to the end of both
mine = {'start_ms': ph['both' if px == 'a' else 'b-slow']['start_ms'], 'end_ms': ph['a-slow' if px == 'a' else 'both']['end_ms']}
delay = 400 if px == 'a' else 1200
calls = [tuple(map(int, l.split())) for l in open(out + '/' + c + '.calls') if len(l.split()) == 2]
# the fleet's add and rm take some ms to reach the instances: 300 ms of slack at each edge
inside = [e - s for s, e in calls if mine['start_ms'] + 300 <= s and e <= mine['end_ms'] - 100]
outside = [e - s for s, e in calls if e < mine['start_ms'] - 50 or s > mine['end_ms'] + 300]
print('#', c, 'inside', inside, 'outside', sorted(outside)[-3:] if outside else None)
assert len(inside) >= (4 if px == 'a' else 2) and min(inside) >= delay * 0.9, inside
# outside: quick, bar a straggler on a busy machine (a fault acting there slows every call)
slow = [d for d in outside if d >= delay * 0.9]
print('#', 'slow outside (from start, from end, ms):', [(s - mine['start_ms'], s - mine['end_ms'], e - s) for s, e in calls if (e < mine['start_ms'] - 50 or s > mine['end_ms'] + 300) and e - s >= delay * 0.9])
assert len(outside) >= 10 and len(slow) <= len(outside) // 20 and sorted(outside)[len(outside) // 2] < 100, outside
PY
done
done_tests
