#!/usr/bin/env bash
# A phase names its faults per proxy: `faults = PROXY/NAME`. Two http proxies, a and b, each with
# a fault named `lat` (a: 400 ms, b: 1200 ms); phases base, b-slow (b/lat), both (b/lat, a/lat),
# a-slow (a/lat), after: at the end of `both` b's lat goes and a's stays. A real client (curl, one
# call after another) through each proxy:
#   - a's calls are slow only in both and a-slow, b's only in b-slow and both (each call timed by
#     the client);
#   - the journal's phases list a/lat and b/lat, its fault windows carry the proxy, each over its
#     phases; the record's R:faults says the same (each proxy's start and end where its phases say);
#   - the verdicts are per proxy: a latency SLO (under 1 s) on `fault = a/lat` PASSes, the same on
#     `fault = b/lat` FAILs;
# the same scenario in process and with --admin (a running faultline with proxies a and b,
# DELETE /faults/PROXY/NAME at the phase end: the daemon is left with no fault). A bare `lat` in a
# phase is refused (exit 2, both candidates named), as is a PROXY/NAME that no proxy has.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
start_redis
PA=$(free_port); PB=$(free_port)
# one call after another through each proxy: "START_MS END_MS" a line
cat >"$TT/calls.sh" <<'SH'
while :; do
    s=$(date +%s%3N)
    curl -s -o /dev/null -m 5 "http://127.0.0.1:$1/x"
    e=$(date +%s%3N)
    echo "$s $e" >>"$2"
    sleep 0.05
done
SH

scenario() {   # scenario FILE OUTDIR: the scenario, its load logging into OUTDIR/{a,b}.calls
    mkdir -p "$2"
    cat >"$1" <<INI
[scenario]
name = one fault name, one phase each
load = sh $TT/calls.sh $PA $2/a.calls & sh $TT/calls.sh $PB $2/b.calls & wait
load_grace = 1s
[proxy a]
listen = 127.0.0.1:$PA
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[proxy b]
listen = 127.0.0.1:$PB
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
}
verdict() { awk -v n="$1" '$1 == n && NF > 2 { print $NF; exit }' "$2"; }

# judge OUT RUNOUT TAG: the checks on one run's output directory
judge() {
    local out=$1 runout=$2 t=$3
    check ${t}_a_pass [ "$(verdict a-under-1s "$runout")" = PASS ]
    check ${t}_b_fail [ "$(verdict b-under-1s "$runout")" = FAIL ]
    check ${t}_journal_phases python3 -c "
import json; j = json.load(open('$out/journal.json'))
f = {p['name']: p['faults'] for p in j['phases']}
assert f == {'base': [], 'b-slow': ['b/lat'], 'both': ['b/lat', 'a/lat'], 'a-slow': ['a/lat'], 'after': []}, f"
    # the windows: one per proxy (a/lat kept across both and a-slow, b/lat across b-slow and
    # both), each from its first phase's start to its last one's end (50 ms of slack)
    check ${t}_journal_windows python3 -c "
import json; j = json.load(open('$out/journal.json'))
ph = {p['name']: p for p in j['phases']}
w = sorted((x['proxy'], x['fault'], x['start_ms'], x['end_ms']) for x in j['faults'])
assert [x[:2] for x in w] == [('a', 'lat'), ('b', 'lat')], w
for (px, _, s, e), (first, last) in zip(w, (('both', 'a-slow'), ('b-slow', 'both'))):
    assert abs(s - ph[first]['start_ms']) < 50 and abs(e - ph[last]['end_ms']) < 50, (px, s, e, ph[first], ph[last])"
    check ${t}_record_windows python3 -c "
import json; j = json.load(open('$out/journal.json')); k = json.load(open('$out/record.json'))['keys']
ph = {p['name']: p for p in j['phases']}
ev = [x for n, v in k.items() if n.endswith(':faults') for x in v['value']]
got = sorted((x['proxy'], x['fault'], x['event'], x.get('reason', '')) for x in ev)
assert got == [('a', 'lat', 'end', 'removed'), ('a', 'lat', 'start', ''), ('b', 'lat', 'end', 'removed'), ('b', 'lat', 'start', '')], got
want = {('a', 'start'): ph['both']['start_ms'], ('a', 'end'): ph['a-slow']['end_ms'],
        ('b', 'start'): ph['b-slow']['start_ms'], ('b', 'end'): ph['both']['end_ms']}
for x in ev:
    assert abs(float(x['at_ms']) - want[(x['proxy'], x['event'])]) < 100, (x, want)"
    # the client's own timings: slow inside its proxy's phase, quick outside it
    for px in a b; do
        check ${t}_client_${px} python3 - "$out" "$px" <<'PY'
import json, sys
out, px = sys.argv[1], sys.argv[2]
j = json.load(open(out + '/journal.json'))
ph = {p['name']: p for p in j['phases']}
# a/lat acts from both to the end of a-slow, b/lat from b-slow to the end of both
mine = {'start_ms': ph['both' if px == 'a' else 'b-slow']['start_ms'], 'end_ms': ph['a-slow' if px == 'a' else 'both']['end_ms']}
delay = 400 if px == 'a' else 1200
calls = [tuple(map(int, l.split())) for l in open(out + '/' + px + '.calls') if len(l.split()) == 2]
inside = [e - s for s, e in calls if mine['start_ms'] + 100 <= s and e <= mine['end_ms'] - 100]
outside = [e - s for s, e in calls if e < mine['start_ms'] - 50 or s > mine['end_ms'] + 50]
print('#', px, 'inside', inside, 'outside', sorted(outside)[-3:] if outside else None)
assert len(inside) >= (4 if px == "a" else 2) and min(inside) >= delay * 0.9, inside
# outside: quick, bar a straggler on a busy machine (a fault acting there slows every call)
slow = [d for d in outside if d >= delay * 0.9]
print('#', 'slow outside (from start, from end, ms):', [(s - mine['start_ms'], s - mine['end_ms'], e - s) for s, e in calls if (e < mine['start_ms'] - 50 or s > mine['end_ms'] + 50) and e - s >= delay * 0.9])
assert len(outside) >= 10 and len(slow) <= len(outside) // 20 and sorted(outside)[len(outside) // 2] < 100, outside
PY
    done
}

# ---- in process ----
scenario "$TT/s.ini" "$TT/out"
check check_accepts "$FL" check "$TT/s.ini"
"$FL" run "$TT/s.ini" --out "$TT/out" >"$TT/run.out" 2>"$TT/run.err"; rc=$?
sed 's/^/# /' "$TT/run.out"
check run_exit_1 [ "$rc" = 1 ]
check phase_line_names_proxy grep -q 'both (3s) faults: b/lat, a/lat' "$TT/run.err"
judge "$TT/out" "$TT/run.out" embedded

# ---- --admin: a running faultline with proxies a and b, no fault ----
AP=$(free_port)
cat >"$TT/d.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
redis = $REDIS_URL
run = phase-names-1
[proxy a]
listen = 127.0.0.1:$PA
upstream = 127.0.0.1:$UP
mode = http
role = ingress
[proxy b]
listen = 127.0.0.1:$PB
upstream = 127.0.0.1:$UP
mode = http
role = ingress
INI
start_fl "$TT/d.ini" "$TT/d.log" || { fail daemon_started "$(cat "$TT/d.log")"; done_tests; exit; }
wait_port "$AP" 3
scenario "$TT/r.ini" "$TT/out2"
"$FL" run "$TT/r.ini" --admin "127.0.0.1:$AP" --redis "$REDIS_URL" --run phase-names-1 --out "$TT/out2" \
    >"$TT/run2.out" 2>"$TT/run2.err"; rc=$?
sed 's/^/# admin: /' "$TT/run2.out"
grep -i 'warning\|error' "$TT/run2.err" | sed 's/^/# admin stderr: /'
check admin_exit_1 [ "$rc" = 1 ]
check admin_no_warning bash -c "! grep -q 'could not remove' '$TT/run2.err'"
check admin_daemon_removed_a grep -q 'event=fault_end fault=lat proxy=a.*reason=removed' "$TT/d.log"
check admin_daemon_removed_b grep -q 'event=fault_end fault=lat proxy=b.*reason=removed' "$TT/d.log"
check admin_no_fault_left [ "$(curl -s -m 2 "http://127.0.0.1:$AP/faults" | tr -d ' \n')" = "[]" ]
judge "$TT/out2" "$TT/run2.out" admin

# ---- refused up front ----
sed 's|^faults = b/lat$|faults = lat|' "$TT/s.ini" >"$TT/amb.ini"
line=$(grep -n '^faults = lat$' "$TT/amb.ini" | cut -d: -f1)
out=$("$FL" run "$TT/amb.ini" --out "$TT/out3" 2>&1); rc=$?
echo "$out" | sed 's/^/# ambiguous: /'
check ambiguous_exit_2 [ "$rc" = 2 ]
check ambiguous_names_both bash -c "echo \"\$1\" | grep -q \"amb.ini:$line: faults: 'lat' is a fault of proxies a, b; write PROXY/NAME (a/lat, b/lat)\"" _ "$out"
out=$("$FL" check "$TT/amb.ini" 2>&1); rc=$?
check ambiguous_check_exit_2 [ "$rc" = 2 ]
sed 's|^faults = b/lat$|faults = c/lat|' "$TT/s.ini" >"$TT/nope.ini"
out=$("$FL" check "$TT/nope.ini" 2>&1); rc=$?
check unknown_proxy_refused bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q \"nope.ini:$line: faults: no \\[fault lat\\] on proxy c\"" _ "$out"
sed 's|^faults = b/lat$|faults = b/lat, a/lat, lat|' "$TT/s.ini" >"$TT/twice.ini"
out=$("$FL" check "$TT/twice.ini" 2>&1)
check listed_twice_refused bash -c "echo \"\$1\" | grep -q \"faults: 'lat' is a fault of proxies a, b\"" _ "$out"
sed 's|^faults = b/lat$|faults = b/lat, b/lat|' "$TT/s.ini" >"$TT/twice2.ini"
out=$("$FL" check "$TT/twice2.ini" 2>&1)
check same_twice_refused bash -c "echo \"\$1\" | grep -q \"faults: 'b/lat' is listed twice\"" _ "$out"
done_tests
