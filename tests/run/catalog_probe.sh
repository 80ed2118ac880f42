#!/usr/bin/env bash
# profiles/goroutine-growth.ini end to end: `faultline run` alone samples the service's own
# /metrics (check = probe) during the whole run. The example service with a deadline on its
# payments calls comes back to baseline (PASS); without one, its stuck calls stay counted (FAIL,
# the probe check named). Phases at 0.3x, the recovery's `within` cut to 4 s to match.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX='s/^within = 15s/within = 4s/'
cat_run profiles/goroutine-growth.ini probe-good 0.3 --timeout 500
cat_expect probe-good workers-recover PASS
check probe_good_sampled bash -c "grep -q 'probe:workers-recover' '$OUTD/record.json'"
cat_run profiles/goroutine-growth.ini probe-buggy 0.3 --timeout 0
cat_expect probe-buggy workers-recover FAIL
check probe_buggy_names_leak bash -c "grep -q 'leak' '$OUTD/journal.json'"
n=$(python3 -c "
import json; r=json.load(open('$OUTD/record.json'))
k=[v for n,v in r['keys'].items() if n.endswith(':probe:workers-recover')]
print(len(k[0]['value']) if k else 0)")
check probe_sampled_every_second_whole_run [ "$n" -ge 14 ]
# every call still held at the end is recorded as such (proxy_close_all closed only the first)
h=$(python3 -c "
import json; r=json.load(open('$OUTD/record.json'))
print(sum(1 for n,v in r['keys'].items() if ':events:' in n for e in v['value'] if e.get('held_at_end') == '1'))")
check every_held_call_recorded_at_end [ "$h" -ge 20 ]
check no_sampler_left bash -c "! pgrep -f '[f]aultline run $TT' >/dev/null"
done_tests
