#!/usr/bin/env bash
# faultline run end to end with short phases: the fault acts only in its phase, phases are
# timed and recorded in R:phases, the load is started and stopped, the embedded redis-server is
# started and stopped, and every output file is written.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
OUT="$TT/out"
# the load: one echo call per 100 ms, each line "<epoch ms> <result>"; a hung call times out at 400 ms
cat >"$TT/load.sh" <<SH
echo \$\$ >"$TT/load.pid"
while true; do
  r=\$("$TBIN/flpeer" call 127.0.0.1:$LP 400)
  echo "\$(date +%s%3N) \$r" >>"$TT/calls.log"
  sleep 0.1
done
SH
cat >"$TT/s.ini" <<INI
[scenario]
name = e2e hang in the middle
load = bash $TT/load.sh
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault api-hang]
proxy = api
type = hang
direction = downstream
[phase baseline]
duration = 2s
[phase inject]
duration = 3s
faults = api-hang
[phase recover]
duration = 2s
[expect held-calls-abandoned]
check = timeout
proxy = api
within = 1s
INI
check check_accepts_scenario "$FL" check "$TT/s.ini"

t0=$(date +%s%3N)
"$FL" run "$TT/s.ini" --out "$OUT" >"$TT/run.out" 2>"$TT/run.err"
rc=$?
t1=$(date +%s%3N)
check exit_status_is_a_verdict [ "$rc" = 0 -o "$rc" = 1 -o "$rc" = 3 ]
check took_about_7s within $((t1 - t0)) 6800 12000
for f in journal.json junit.xml record.json report.html; do
    check "wrote_$f" test -s "$OUT/$f"
done
check wrote_load.log test -e "$OUT/load.log"
check table_printed grep -q held-calls-abandoned "$TT/run.out"
check report_path_printed grep -q "report.html" "$TT/run.out"

J="$OUT/journal.json"
jq_() { python3 -c "import json,sys; j=json.load(open('$J')); print($1)"; }
check three_phases [ "$(jq_ "len(j['phases'])")" = 3 ]
check phase_order [ "$(jq_ "' '.join(p['name'] for p in j['phases'])")" = "baseline inject recover" ]
d_inject=$(jq_ "round(j['phases'][1]['end_ms'] - j['phases'][1]['start_ms'])")
check inject_lasted_3s within "$d_inject" 2900 3300
w=$(jq_ "abs(j['faults'][0]['start_ms'] - j['phases'][1]['start_ms']) < 50 and abs(j['faults'][0]['end_ms'] - j['phases'][1]['end_ms']) < 50")
check fault_window_is_the_phase [ "$w" = True ]
check not_aborted [ "$(jq_ "j['aborted']")" = False ]
check load_was_stopped [ "$(jq_ "j['load'].get('signal', j['load'].get('exit_status'))")" != None ]
check verdict_in_journal [ "$(jq_ "j['verdicts'][0]['name']")" = held-calls-abandoned ]

# the fault acted only during its phase: calls timed out inside the window, not before or after
s_in=$(jq_ "j['phases'][1]['start_ms']"); e_in=$(jq_ "j['phases'][1]['end_ms']")
awk -v s="$s_in" -v e="$e_in" '
  { t = $1; to = ($0 ~ /result=timeout/) }
  t < s - 100 && to { before++ }
  t > s + 600 && t < e - 100 && to { during++ }
  t > s + 600 && t < e - 100 { n_during++ }
  t > e + 500 && to { after++ }
  t > e + 500 { n_after++ }
  END { printf "before=%d during=%d n_during=%d after=%d n_after=%d\n", before, during, n_during, after, n_after }' \
  "$TT/calls.log" >"$TT/counts"
c=$(cat "$TT/counts")
check no_timeouts_before_fault [ "$(kv "$c" before)" = 0 ]
check calls_hung_during_fault [ "$(kv "$c" during)" -ge 2 ] 
check no_timeouts_after_fault [ "$(kv "$c" after)" = 0 -a "$(kv "$c" n_after)" -ge 1 ]

# R:phases: a start and an end per phase, in the exported record
n=$(python3 -c "
import json; r=json.load(open('$OUT/record.json'))
k=[v for n,v in r['keys'].items() if n.endswith(':phases')][0]['value']
print(len(k), ' '.join(e['phase']+':'+e['event'] for e in k))")
check r_phases_recorded [ "$n" = "6 baseline:start baseline:end inject:start inject:end recover:start recover:end" ]

# the run is judged again from record.json alone (its embedded redis is gone): same verdict
"$FL" verify "$TT/s.ini" --record "$OUT/record.json" --json "$TT/again.json" >"$TT/again.out" 2>&1; rc2=$?
sed 's/^/# again: /' "$TT/again.out"
check record_json_same_exit [ "$rc2" = "$rc" ]
check record_json_same_verdict python3 -c "
import json, sys
j, a = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
v1 = [(v['name'], v['verdict'], v['measured']) for v in j['verdicts']]
v2 = [(v['name'], v['verdict'], v['measured']) for v in a['results']]
assert v1 == v2, (v1, v2)" "$J" "$TT/again.json"
# without --record, an unreachable redis: the error names the way
out=$("$FL" verify "$TT/s.ini" --run "$(jq_ "j['run']")" --redis "unix:$TT/none.sock" 2>&1); rc3=$?
echo "# $out"
check no_redis_names_record_json bash -c "[ $rc3 = 2 ] && echo \"\$1\" | grep -q -- '--record OUT/record.json'" _ "$out"
# record.json has the shape docs/metrics.md gives it
check record_json_shape python3 -c "
import json, sys
r = json.load(open(sys.argv[1]))
assert set(r) == {'run', 'started_ms', 'keys'}, set(r)
pre = 'fl:run:%s:' % r['run']
types = {'hash': dict, 'set': list, 'stream': list, 'zset': dict, 'list': list, 'string': str}
for k, v in r['keys'].items():
    assert k.startswith(pre), k
    assert set(v) == {'type', 'value'} and v['type'] in types, (k, v.keys())
    assert isinstance(v['value'], types[v['type']]), k
    if v['type'] == 'hash': assert all(isinstance(x, str) for x in v['value'].values()), k
    if v['type'] == 'stream': assert all('_id' in e and all(isinstance(x, str) for x in e.values()) for e in v['value']), k
names = {k[len(pre):].split(':')[0] for k in r['keys']}
assert {'instances', 'meta', 'faults', 'phases', 'runner', 'ts', 'events', 'counters', 'fault'} <= names, names
run = r['keys'][pre + 'runner']['value']
assert run['outcome'] == 'finished' and float(run['stopped_ms']) > float(run['started_ms']), run" "$OUT/record.json"

# embedded redis: stopped, socket removed; the load's shell gone
check embedded_redis_socket_removed [ ! -e "$OUT/redis.sock" ]
check embedded_redis_stopped bash -c "! pgrep -f '[r]edis-server.*$OUT' >/dev/null"
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" = Z ]; }
check load_gone wait_for 3 gone "$(cat "$TT/load.pid")"

# junit is well-formed XML
check junit_parses python3 -c "import xml.etree.ElementTree as E; E.parse('$OUT/junit.xml')"

# report.html: self-contained (no script, no external URL), has the verdict and an SVG per proxy
H="$OUT/report.html"
check html_no_script bash -c "! grep -qi '<script' '$H'"
check html_no_external_refs bash -c "! grep -Eo '(src|href)=\"[a-z]+://' '$H' | grep -q ."
check html_has_svg grep -q '<svg' "$H"
check html_has_verdict grep -q held-calls-abandoned "$H"
check html_has_fault_window grep -q 'class="fw"' "$H"

# the same scenario with an external Redis: nothing embedded, keys land there
start_redis
"$FL" run "$TT/s.ini" --out "$TT/out2" --redis "$REDIS_URL" >/dev/null 2>&1
check external_redis_no_embedded [ ! -e "$TT/out2/redis.log" ]
run2=$(python3 -c "import json; print(json.load(open('$TT/out2/journal.json'))['run'])")
check external_redis_has_phases [ "$(redis-cli -s "$REDIS_SOCK" XLEN "fl:run:$run2:phases")" = 6 ]

done_tests
