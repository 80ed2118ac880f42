#!/usr/bin/env bash
# Fault names are per proxy in the record too. A scenario with two http proxies, a and b, each
# with a fault named `lat` (a: 50 ms, b: 1500 ms, both from 2 s for 4 s), and a real client
# (vclient, 10 calls/s, 5 s timeout) through each:
#   - the profile is accepted (one name on two proxies is two faults; twice on one proxy is not);
#   - the record keys the counters by proxy and name, R:fault:a:lat:<inst> and
#     R:fault:b:lat:<inst>, each with its own proxy's calls (in record.json as well);
#   - the verdicts are separate: a latency SLO during `fault = lat` (the one on the expectation's
#     proxy) PASSes on a (50 ms) and FAILs on b (1.5 s); the timeout check with `fault = b/lat`
#     FAILs on b (the client waits 1.5 s); judged again from record.json, the same;
#   - a phase that names `lat` (which proxy's?) is refused with PATH:LINE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
PA=$(free_port); PB=$(free_port)
C="$TBIN/vclient --http /x --duration 30 --timeout 5000 --rate 10"
printf '%s --addr 127.0.0.1:%s &\n%s --addr 127.0.0.1:%s &\nwait\n' "$C" "$PA" "$C" "$PB" >"$TT/load.sh"
cat >"$TT/s.ini" <<INI
[scenario]
name = one fault name on two proxies
load = sh $TT/load.sh
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
delay = 50ms
start = 2s
duration = 4s
[fault lat]
proxy = b
type = latency
delay = 1500ms
start = 2s
duration = 4s
[phase all]
duration = 9s
[expect a-quick]
check = slo
proxy = a
fault = lat
window = faults
max_latency = 500ms
quantile = 90%
min_requests = 10
[expect b-quick]
check = slo
proxy = b
fault = lat
window = faults
max_latency = 500ms
quantile = 90%
min_requests = 10
[expect b-quick-named]
check = timeout
proxy = b
fault = b/lat
within = 500ms
INI
check check_accepts "$FL" check "$TT/s.ini"
"$FL" run "$TT/s.ini" --out "$TT/out" >"$TT/run.out" 2>"$TT/run.err"; rc=$?
sed 's/^/# /' "$TT/run.out"
check run_exit_1 [ "$rc" = 1 ]
verdict() { awk -v n="$1" '$1 == n && NF > 2 { print $NF; exit }' "$2"; }
check a_pass [ "$(verdict a-quick "$TT/run.out")" = PASS ]
check b_fail [ "$(verdict b-quick "$TT/run.out")" = FAIL ]
check b_named_fail [ "$(verdict b-quick-named "$TT/run.out")" = FAIL ]
# the counters: one hash per proxy's fault, each with its own calls (about 40 each)
python3 - "$TT/out/record.json" >"$TT/counts" 2>&1 <<'PY'
import json, sys
k = json.load(open(sys.argv[1]))['keys']
run = None
for name in k:
    if ':fault:' in name:
        rest = name.split(':fault:', 1)[1]
        print(rest.rsplit(':', 1)[0], k[name]['value'].get('proxy'), k[name]['value'].get('requests_affected'))
PY
sed 's/^/# counters: /' "$TT/counts"
check two_hashes [ "$(wc -l <"$TT/counts")" = 2 ]
check a_hash bash -c "awk '\$1 == \"a:lat\" && \$2 == \"a\" && \$3 >= 20 && \$3 <= 60' '$TT/counts' | grep -q ."
check b_hash bash -c "awk '\$1 == \"b:lat\" && \$2 == \"b\" && \$3 >= 15 && \$3 <= 60' '$TT/counts' | grep -q ."
check journal_both_windows python3 -c "
import json; j = json.load(open('$TT/out/journal.json'))
w = sorted((f['proxy'], f['fault']) for f in j['faults'])
assert w == [('a', 'lat'), ('b', 'lat')], w"
"$FL" verify "$TT/s.ini" --record "$TT/out/record.json" >"$TT/again.out" 2>&1; rc2=$?
sed 's/^/# again: /' "$TT/again.out"
check again_exit_1 [ "$rc2" = 1 ]
check again_a_pass [ "$(verdict a-quick "$TT/again.out")" = PASS ]
check again_b_fail [ "$(verdict b-quick "$TT/again.out")" = FAIL ]

# twice on one proxy: a duplicate; a phase naming the shared name: ambiguous
sed '0,/^proxy = b$/s//proxy = a/' "$TT/s.ini" >"$TT/dup.ini"
out=$("$FL" check "$TT/dup.ini" 2>&1)
check dup_refused bash -c "echo \"\$1\" | grep -q 'dup.ini:20: \[fault lat\] is defined twice on proxy a'" _ "$out"
sed 's/^duration = 9s$/duration = 9s\nfaults = lat/' "$TT/s.ini" >"$TT/ph.ini"
out=$("$FL" check "$TT/ph.ini" 2>&1)
check phase_ambiguous bash -c "echo \"\$1\" | grep -q \"ph.ini:28: faults: 'lat' is a fault of proxies a, b\"" _ "$out"
done_tests
