#!/usr/bin/env bash
# `faultline serve PROFILE --expect FILE` takes the samples the probe and postgres checks need,
# itself: a real metrics endpoint (tests/peers/vclient_metrics.c) that rises during a hang fault
# (3s to 6s) and comes back, sampled into the daemon's own run while it records it; `verify`
# then judges PASS. The same run without --expect: INCONCLUSIVE, and the why names the commands
# that take samples. --expect without [faultline] redis is refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
echo 10 >"$TT/m.v"
"$TBIN/vclient_metrics" "$TT/m.v" >"$TT/m.out" 2>&1 &
_PIDS+=($!)
wait_for 5 grep -q '^listening ' "$TT/m.out" || { fail metrics "endpoint did not start"; exit 1; }
MP=$(sed -n 's/^listening //p' "$TT/m.out")
start_peer UP 127.0.0.1:0 echo
profile() {   # RUN PORT
    printf '[faultline]\nadmin = off\nredis = %s\nrun = %s\ninstance = i1\n' "$REDIS_URL" "$1"
    printf '[proxy api]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$2" "$UP"
    printf '[fault api-hang]\nproxy = api\ntype = hang\nstart = 3s\nduration = 3s\n'
}
cat >"$TT/e.ini" <<INI
[expect goroutines-back]
check = probe
proxy = api
url = http://127.0.0.1:$MP/metrics
metric = go_goroutines
tolerance = 0.2
within = 2s
interval = 250ms
INI
one_run() {   # RUN [--expect FILE]
    local run=$1 port; shift
    port=$(free_port)
    profile "$run" "$port" >"$TT/$run.ini"
    echo 10 >"$TT/m.v"
    "$FL" serve "$TT/$run.ini" "$@" 2>"$TT/$run.log" &
    local pid=$!
    _PIDS+=($pid)
    wait_port "$port" 10 || { fail "start_$run" "$(cat "$TT/$run.log")"; return; }
    "$TBIN/vclient" --addr "127.0.0.1:$port" --rate 5 --duration 9 --timeout 500 >/dev/null &
    sleep 3.5
    echo 60 >"$TT/m.v"
    sleep 3.2
    echo 11 >"$TT/m.v"
    wait $!
    stop_pid "$pid"
}
one_run se1 --expect "$TT/e.ini"
check sampler_said_so grep -q 'sampling the postgres and probe expectations of .* into run se1' "$TT/se1.log"
check samples_written [ "$(rcli xlen fl:run:se1:probe:goroutines-back)" -ge 20 ]
check sampler_stopped_with_daemon bash -c "! pgrep -f '[s]erve $TT/se1.ini' >/dev/null"
vverify "$TT/e.ini" se1
expect_verdict goroutines-back PASS with_expect
one_run se2
vverify "$TT/e.ini" se2
expect_verdict goroutines-back INCONCLUSIVE without_expect
check names_the_command bash -c "echo \"\$1\" | grep -q 'faultline serve PROFILE --expect FILE'" _ "$VOUT"
# --expect needs the record
printf '[faultline]\nadmin = off\n[proxy api]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$(free_port)" "$UP" >"$TT/nored.ini"
out=$("$FL" serve "$TT/nored.ini" --expect "$TT/e.ini" 2>&1); rc=$?
check expect_needs_redis bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'the profile needs \\[faultline\\] redis'" _ "$out"
done_tests
