#!/usr/bin/env bash
# probe judged from the service's own metrics: two real HTTP metrics endpoints (Prometheus text
# and JSON), sampled into the record by `faultline verify --sample` during a real faultline run
# (hang fault from 3s to 6s). One "service" returns to its baseline goroutine count after the
# fault, one keeps the goroutines it grew (a leak). INCONCLUSIVE: samples only after the fault
# started (no baseline), and a fault that never applied.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_metrics() {  # VAR FILE
    local out="$TT/m.$RANDOM" i
    "$TBIN/vclient_metrics" "$2" >"$out" 2>&1 &
    _PIDS+=($!)
    for i in $(seq 1 100); do
        grep -q '^listening ' "$out" && { printf -v "$1" '%s' "$(sed -n 's/^listening //p' "$out")"; return 0; }
        sleep 0.05
    done
    return 1
}
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
echo 10 >"$TT/good.v"; echo 10 >"$TT/leak.v"
start_metrics MG "$TT/good.v" && start_metrics ML "$TT/leak.v" || { fail start "metrics endpoint"; exit 1; }
start_peer UP 127.0.0.1:0 echo
LP=$(free_port); LP2=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = pr1
instance = i1
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault api-hang]
proxy = api
type = hang
start = 3s
duration = 3s
[proxy calm]
listen = 127.0.0.1:$LP2
upstream = 127.0.0.1:$UP
[fault calm-hang]
proxy = calm
type = hang
start = 3s
duration = 3s
probability = 0
INI
cat >"$TT/e.ini" <<INI
[expect good-prom]
check = probe
proxy = api
url = http://127.0.0.1:$MG/metrics
metric = go_goroutines
tolerance = 0.2
within = 2s
interval = 250ms
[expect leak-json]
check = probe
proxy = api
url = http://127.0.0.1:$ML/vars
json_path = \$.runtime.goroutines
tolerance_abs = 5
within = 2s
interval = 250ms
[expect good-labels]
check = probe
proxy = api
url = http://127.0.0.1:$MG/metrics
metric = app_conns{pool="a"}
within = 2s
interval = 250ms
[expect calm]
check = probe
proxy = calm
url = http://127.0.0.1:$MG/metrics
metric = go_goroutines
within = 2s
interval = 250ms
[expect missing]
check = probe
proxy = api
url = http://127.0.0.1:$MG/metrics
metric = no_such_metric
within = 2s
interval = 250ms
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
"$FL" verify "$TT/e.ini" --run pr1 --redis "$REDIS_URL" --sample --for 10s 2>"$TT/sampler.log" &
SAMPLER=$!
_PIDS+=($SAMPLER)
"$TBIN/vclient" --addr "127.0.0.1:$LP" --rate 5 --duration 9 --timeout 500 >/dev/null &
"$TBIN/vclient" --addr "127.0.0.1:$LP2" --rate 5 --duration 9 --timeout 500 >/dev/null &
sleep 3.5
echo 60 >"$TT/good.v"; echo 60 >"$TT/leak.v"      # goroutines pile up on hung calls
sleep 3.2                                          # the fault ended at ~6s
echo 11 >"$TT/good.v"                              # the good service lets them go
wait "$SAMPLER"
check sampler_exit_0 [ $? = 0 ]
stop_pid "$FL_PID"
check samples_written [ "$(rcli xlen fl:run:pr1:probe:good-prom)" -ge 25 ]
check failed_samples_recorded bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw xrange fl:run:pr1:probe:missing - + COUNT 1 | grep -c 'not found')\" = 1 ]"

vverify "$TT/e.ini" pr1
check exit_1 [ "$VRC" = 1 ]
expect_verdict good-prom PASS
expect_verdict leak-json FAIL
expect_verdict good-labels PASS
expect_verdict calm INCONCLUSIVE
expect_verdict missing INCONCLUSIVE
check leak_says_stayed bash -c "echo \"\$1\" | grep -q 'FAIL leak-json: the value stayed at 60'" _ "$VOUT"
done_tests
