#!/usr/bin/env bash
# The verifier on records written by hand with redis-cli, exactly per docs/metrics.md: merging
# of instances (series summed, fault windows unioned, a window start resent after a reconnect),
# the phase baseline, branches hard to provoke with real clients (a breaker that never closes,
# a slow timeout, a window longer than the record), bad input and unreachable Redis (exit 2),
# and JUnit XML with hostile names. And checks whose data never saw what they judge: a pool
# check on an http proxy whose load could not have pushed any client past `max`, a retries
# check where no attempt failed: INCONCLUSIVE, never PASS.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }

# ---- two instances, one proxy: each instance peaks at 3, together 6 ----
fx_run m2 0 30 i1
fx_run m2 0 30 i2
fx_window m2 stall dep hang 10 20 i1
fx_window m2 stall dep hang 10 20 i2
fx_window m2 stall dep hang 10 - i2          # resent start: no second window
fx_fault m2 stall dep hang 4 i1
fx_fault m2 stall dep hang 0 i2
for s in $(seq 0 29); do
    fx_ts m2 dep "$s" "new=2 peak=3 cur=1 req=0 err=0 inflight=0 faults=0 up=10 down=10" i1
    fx_ts m2 dep "$s" "new=2 peak=3 cur=1 req=0 err=0 inflight=0 faults=0 up=10 down=10" i2
done
cat >"$TT/m.ini" <<INI
[expect pool6]
check = pool
proxy = dep
max = 5
[expect pool6ok]
check = pool
proxy = dep
max = 6
[expect rec]
check = recovery
proxy = dep
within = 2s
INI
vverify "$TT/m.ini" m2
expect_verdict pool6 FAIL merged
expect_verdict pool6ok PASS merged
expect_verdict rec PASS merged_window_closed
check merged_peak_6 bash -c "echo \"\$1\" | grep '^pool6 ' | grep -q 'peak 6 '" _ "$VOUT"

# ---- timeout: a slow timeout (3 s against within 1s), and p50 ----
fx_run t2 0 30
fx_window t2 stall dep hang 5 25
fx_fault t2 stall dep hang 4
for i in 1 2 3 4; do
    w=$([ $i -le 3 ] && echo 300 || echo 3000)
    fx_ev t2 dep kind conn inst i1 id $i open_ms "$(fxms 6)" last_up_ms "$(fxms 6)" hang_ms "$(fxms 6)" \
        gave_up_ms "$(fxms "$(awk -v w=$w 'BEGIN{print 6 + w/1000}')")" waited_ms $w close_ms "$(fxms 10)" closed_by client fault stall bytes_up 5 bytes_down 0
done
# an idle pooled connection held without a call: not counted
fx_ev t2 dep kind conn inst i1 id 9 open_ms "$(fxms 1)" hang_ms "$(fxms 5)" held_at_end 1 close_ms "$(fxms 30)" closed_by proxy fault stall bytes_up 0 bytes_down 0
cat >"$TT/t.ini" <<INI
[expect all]
check = timeout
proxy = dep
within = 1s
[expect p50]
check = timeout
proxy = dep
within = 1s
quantile = 50%
[expect p99]
check = timeout
proxy = dep
within = 1s
quantile = p99
INI
vverify "$TT/t.ini" t2
expect_verdict all FAIL slow_timeout
check slow_timeout_why bash -c "echo \"\$1\" | grep -q 'FAIL all: the client waited 3s'" _ "$VOUT"
expect_verdict p50 PASS p50_3_of_4_within
expect_verdict p99 INCONCLUSIVE p99_needs_100_calls

# ---- a slowing tcp fault (bandwidth): calls as turns (call_open_ms, call_max_ms) ----
for run in s2 s3 s4; do
    fx_run $run 0 40
    fx_window $run trickle dep bandwidth 5 25
    fx_fault $run trickle dep bandwidth 2
    # a call made before the fault, its connection idle in the pool until 30 s: not counted
    fx_ev $run dep kind conn inst i1 id 3 open_ms "$(fxms 1)" last_up_ms "$(fxms 1)" call_max_ms 50 \
        call_max_at_ms "$(fxms 1)" close_ms "$(fxms 30)" closed_by upstream fault trickle bytes_up 5 bytes_down 10
done
fx_ev s2 dep kind conn inst i1 id 1 open_ms "$(fxms 6)" last_up_ms "$(fxms 6)" call_open_ms "$(fxms 6)" pending_down 90 \
    close_ms "$(fxms 6.5)" closed_by client fault trickle bytes_up 5 bytes_down 10
# still waiting for its answer 25 s later, when the upstream closed
fx_ev s3 dep kind conn inst i1 id 2 open_ms "$(fxms 7)" last_up_ms "$(fxms 7)" call_open_ms "$(fxms 7)" \
    close_ms "$(fxms 32)" closed_by upstream fault trickle bytes_up 5 bytes_down 200
# keep-alive: a call slowed to 300 ms during the fault, then idle 20 s, closed by the client
fx_ev s4 dep kind conn inst i1 id 4 open_ms "$(fxms 6)" last_up_ms "$(fxms 8)" call_max_ms 300 call_max_at_ms "$(fxms 8)" \
    close_ms "$(fxms 28)" closed_by client fault trickle bytes_up 50 bytes_down 200
printf '[expect slow]\ncheck = timeout\nproxy = dep\nwithin = 2s\n' >"$TT/s.ini"
vverify "$TT/s.ini" s2
expect_verdict slow PASS bandwidth_abandoned
vverify "$TT/s.ini" s3
expect_verdict slow FAIL bandwidth_waited_25s
vverify "$TT/s.ini" s4
expect_verdict slow INCONCLUSIVE bandwidth_idle_keepalive_not_a_call

# ---- breaker that never closes; phases as the baseline ----
fx_run b2 0 40
rcli xadd fl:run:b2:phases '*' phase warmup event start at_ms "$(fxms 0)" >/dev/null
rcli xadd fl:run:b2:phases '*' phase warmup event end at_ms "$(fxms 5)" >/dev/null
rcli xadd fl:run:b2:phases '*' phase baseline event start at_ms "$(fxms 5)" >/dev/null
rcli xadd fl:run:b2:phases '*' phase baseline event end at_ms "$(fxms 10)" >/dev/null
fx_window b2 err api http_error 10 20
fx_fault b2 err api http_error 50
for s in $(seq 0 39); do
    if [ "$s" -lt 5 ]; then r=100; elif [ "$s" -lt 10 ]; then r=10; elif [ "$s" -lt 11 ]; then r=5; else r=0; fi
    fx_ts b2 api "$s" "new=0 peak=2 cur=2 req=$r err=0 inflight=1 faults=0 up=0 down=0"
done
cat >"$TT/b.ini" <<INI
[expect stuck-open]
check = breaker
proxy = api
open_within = 1s
recover_within = 5s
INI
vverify "$TT/b.ini" b2
expect_verdict stuck-open FAIL never_closes
check never_closes_why bash -c "echo \"\$1\" | grep -q 'the breaker never closed'" _ "$VOUT"
check baseline_from_phase bash -c "echo \"\$1\" | grep -q 'baseline 10 req/s'" _ "$VOUT"

# ---- breaker, two windows 2 s apart (recover_within 5s): closing in between cannot be seen ----
fx_run b3 0 40
fx_window b3 err api http_error 10 15
fx_window b3 err api http_error 17 22
fx_fault b3 err api http_error 50
for s in $(seq 0 39); do
    if [ "$s" -lt 10 ]; then r=10; elif [ "$s" -lt 15 ] || { [ "$s" -ge 17 ] && [ "$s" -lt 22 ]; }; then r=0; elif [ "$s" -lt 17 ]; then r=1; else r=10; fi
    fx_ts b3 api "$s" "new=0 peak=2 cur=2 req=$r err=0 inflight=1 faults=0 up=0 down=0"
done
vverify "$TT/b.ini" b3
expect_verdict stuck-open INCONCLUSIVE windows_too_close
check too_close_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE stuck-open: window 1: .*next fault window began 2s later'" _ "$VOUT"
check too_close_w2_measured bash -c "echo \"\$1\" | grep -q 'w2: open 0 req/s (-100%), after: 10 req/s\\|w2: open 0 req/s (-100%), back after'" _ "$VOUT"

# ---- a fault still open when the record ends: recovery cannot be judged ----
fx_run o2 0 20
fx_window o2 stall dep hang 10 -
fx_fault o2 stall dep hang 3
for s in $(seq 0 19); do fx_ts o2 dep "$s" "new=1 peak=1 cur=1 req=0 err=0 inflight=0 faults=0 up=1 down=1"; done
rcli hdel fl:run:o2:meta:i1 ended_ms >/dev/null
vverify "$TT/m.ini" o2
expect_verdict rec INCONCLUSIVE fault_still_open

# ---- recovery on http2/grpc: held calls counted per stream, not per connection ----
# conn 1 carries three held streams (its own event is no fourth call); conn 2's event is its
# only held call (its one stream was given up on): 4 held calls on 2 connections
fx_run h2r 0 30
fx_window h2r stall dep hang 10 12
fx_fault h2r stall dep hang 2
for s in $(seq 0 29); do fx_ts h2r dep "$s" "new=0 peak=2 cur=2 req=1 err=0 inflight=1 faults=0 up=1 down=1"; done
for c in 1 2; do
    fx_ev h2r dep kind conn inst i1 id $c open_ms "$(fxms 1)" hang_ms "$(fxms 10.5)" call_open_ms "$(fxms 10.5)" \
        held_at_end 1 close_ms "$(fxms 30)" closed_by proxy fault stall bytes_up 50 bytes_down 0
done
for st in 1 3 5; do
    fx_ev h2r dep kind request inst i1 conn 1 stream $st method POST path /s/M host x status 0 req_ms "$(fxms 10.5)" \
        held_at_end 1 end inflight fault stall
done
fx_ev h2r dep kind request inst i1 conn 2 stream 1 method POST path /s/M host x status 0 req_ms "$(fxms 10.5)" \
    abandoned_ms 900 end aborted fault stall
vverify "$TT/m.ini" h2r
expect_verdict rec FAIL h2_held_streams
check h2_held_per_stream bash -c "echo \"\$1\" | grep '^rec ' | grep -q '; 4 held calls left open (on 2 connections)'" _ "$VOUT"
check h2_held_why bash -c "echo \"\$1\" | grep -q 'FAIL rec: 4 held calls still open 2s after the fault ended (on 2 connections)'" _ "$VOUT"

# ---- evidence: too little load for a pool bound, nothing failed for retries ----
fx_run ev1 0 30
fx_window ev1 slow web latency 10 20
# the counters under the key of records written by older versions (R:fault:<fault>:<inst>): read too
rcli hset fl:run:ev1:fault:slow:i1 proxy web type latency conns_affected 0 requests_affected 8 >/dev/null
for s in $(seq 0 29); do fx_ts ev1 web "$s" "new=0 peak=1 cur=1 req=1 err=0 inflight=1 faults=0 up=1 down=1"; done
for s in $(seq 0 2 28); do
    fx_ev ev1 web kind request inst i1 conn 1 method GET path /a host x status 200 req_ms "$(fxms "$s")" total_ms 20 end done
done
printf '[expect pool]\ncheck = pool\nproxy = web\nmax = 20\n[expect retr]\ncheck = retries\nproxy = web\nmax_attempts = 2\n' >"$TT/ev.ini"
vverify "$TT/ev.ini" ev1
expect_verdict pool INCONCLUSIVE too_little_load
check too_little_load_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE pool: at the baseline rate (1 req/s) about 10 calls arrive during the fault (10s): not more than max (20)'" _ "$VOUT"
expect_verdict retr INCONCLUSIVE nothing_failed
check nothing_failed_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE retr: no attempt failed'" _ "$VOUT"
printf '[expect pool]\ncheck = pool\nproxy = web\nmax = 5\n' >"$TT/ev2.ini"
vverify "$TT/ev2.ini" ev1
expect_verdict pool PASS enough_load

# ---- exit 2: bad input, unreachable redis ----
printf '[expect x]\ncheck = timeout\nproxy = dep\nwithin = soon\n' >"$TT/bad1.ini"
"$FL" verify "$TT/bad1.ini" --run t2 --redis "$REDIS_URL" >"$TT/o" 2>&1
check bad_duration_exit_2 [ $? = 2 ]
check bad_duration_path_line grep -q "bad1.ini:4: \[expect x\] within:" "$TT/o"
printf '[expect x]\ncheck = nonsense\n' >"$TT/bad2.ini"
"$FL" verify "$TT/bad2.ini" --run t2 --redis "$REDIS_URL" >"$TT/o" 2>&1
check unknown_check_exit_2 [ $? = 2 ]
check unknown_check_line grep -q "bad2.ini:2: .*unknown check 'nonsense'" "$TT/o"
printf '[expect x]\ncheck = pool\nproxy = dep\nmax = 3\nmaxx = 4\n' >"$TT/bad3.ini"
"$FL" verify "$TT/bad3.ini" --run t2 --redis "$REDIS_URL" >"$TT/o" 2>&1
check unknown_key_exit_2 [ $? = 2 ]
check unknown_key_line grep -q "bad3.ini:5: unknown key 'maxx'" "$TT/o"
printf '[expect x]\ncheck = pool\nmax = 3\n' >"$TT/bad4.ini"
"$FL" verify "$TT/bad4.ini" --run t2 --redis "$REDIS_URL" >"$TT/o" 2>&1
check missing_proxy_exit_2 [ $? = 2 ]
"$FL" verify "$TT/m.ini" --run m2 --redis "unix:$TT/nope.sock" >"$TT/o" 2>&1
check redis_down_exit_2 [ $? = 2 ]
check redis_down_says_so grep -q 'unreachable' "$TT/o"
"$FL" verify "$TT/m.ini" --run m2 --redis "redis://127.0.0.1:$(free_port)/0" >"$TT/o" 2>&1
check redis_tcp_down_exit_2 [ $? = 2 ]
"$FL" verify "$TT/m.ini" >"$TT/o" 2>&1
check no_run_exit_2 [ $? = 2 ]
"$FL" verify --help >"$TT/o" 2>&1
check help_exit_0 [ $? = 0 ]
check help_lists_checks grep -q 'timeout, pool, recovery, breaker, retries, bulkhead, postgres, probe' "$TT/o"

# ---- JUnit and JSON with hostile names and texts ----
cat >"$TT/x.ini" <<'INI'
[expect a<b>&"c"'d']
check = pool
proxy = dep
max = 5
[expect ok]
check = pool
proxy = dep
max = 9
INI
vverify "$TT/x.ini" m2 --junit "$TT/x.xml" --json "$TT/x.json"
check hostile_exit_1 [ "$VRC" = 1 ]
check hostile_junit_valid xmllint --noout "$TT/x.xml"
check hostile_junit_escaped grep -q 'name="a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"' "$TT/x.xml"
check hostile_json_valid python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['results'][0]['name'] == 'a<b>&\"c\"\\'d\\'' and d['summary'] == {'pass': 1, 'fail': 1, 'inconclusive': 0}" "$TT/x.json"
done_tests
