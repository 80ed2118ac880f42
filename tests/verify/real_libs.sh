#!/usr/bin/env bash
# retry_spacing and half_open judge real resilience libraries, not only policies written after
# them: the npm packages cockatiel and opossum (tests/verify/cockatiel_client.js: their retry
# and circuit breakers around node's fetch, unchanged) at 8 calls/s (retries) and 20 calls/s
# (breakers) through http
# proxies with an http_error 503 fault from 2s to 7s:
#   half      ExponentialBackoff, halfJitterGenerator (pauses 100-200, 200-400 ms)  PASS min_gap, growth, jitter
#   decorr    ExponentialBackoff as shipped (decorrelated jitter)                   PASS jitter
#   nojitter  ExponentialBackoff, noJitterGenerator (300, 600 ms)                   PASS growth; FAIL jitter (a herd)
#             (300 ms as in retry_spacing.sh: a loaded machine spreads a fixed pause by up to 22%,
#             under the default min_spread 30%)
#   constant  ConstantBackoff(300)                                                  FAIL growth
#   brk       circuitBreaker, ConsecutiveBreaker(5), halfOpenAfter 1000             half_open PASS
#   eager     the same, halfOpenAfter 100                                           half_open FAIL
#   opo       opossum CircuitBreaker, 50% errors of 5+ calls over 2 s, resetTimeout 1000  half_open PASS
#   none      no breaker                                                            half_open FAIL (never opened)
# Skipped, with the reason, without node >= 18 or when npm cannot install the packages.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

resilience_setup || exit 0

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
RETRY="half decorr nojitter constant"
BRK="brk eager opo none"
declare -A P POL
POL=([half]=retry:half [decorr]=retry:decorr [nojitter]=retry:nojitter [constant]=retry:constant
     [brk]=breaker:1000 [eager]=breaker:100 [opo]=opossum:1000 [none]=none)
for px in $RETRY $BRK; do P[$px]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = lib1\ninstance = i1\n' "$REDIS_URL"
    for px in $RETRY $BRK; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 2s\nduration = 5s\n' "$px" "$px"
    done
} >"$TT/p.ini"
cat >"$TT/e.ini" <<INI
[expect half]
check = retry_spacing
proxy = half
min_gap = 80ms
backoff = exponential
jitter = required
[expect decorr]
check = retry_spacing
proxy = decorr
min_gap = 0
jitter = required
[expect nojitter]
check = retry_spacing
proxy = nojitter
min_gap = 250ms
backoff = exponential
[expect nojitter-herd]
check = retry_spacing
proxy = nojitter
min_gap = 250ms
jitter = required
[expect constant]
check = retry_spacing
proxy = constant
min_gap = 200ms
backoff = exponential
INI
for px in $BRK; do
    printf '[expect %s]\ncheck = half_open\nproxy = %s\nafter_min = 800ms\nafter_max = 1.6s\n' "$px" "$px" >>"$TT/e.ini"
done
check check_accepts "$FL" check "$TT/e.ini"

pids=()
for px in $RETRY $BRK; do
    rate=8
    case " $BRK " in *" $px "*) rate=20 ;; esac
    COCKATIEL_DIR="$RES_DIR" timeout -k 5 60 node "$(dirname "$0")/cockatiel_client.js" \
        "http://127.0.0.1:${P[$px]}/pay" "$rate" 9 "$TT/go" "${POL[$px]}" >"$TT/c.$px" 2>&1 &
    pids+=($!)
done
wait_for 60 bash -c "[ \$(cat $(for px in $RETRY $BRK; do printf '%s ' "$TT/c.$px"; done) | grep -c '^ready') = 8 ]" ||
    fail clients_ready "node clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
wait "${pids[@]}"
for px in $RETRY $BRK; do echo "# client $px: $(grep -v '^ready' "$TT/c.$px" | tail -3)"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" lib1
check exit_1 [ "$VRC" = 1 ]
expect_verdict half PASS
expect_verdict decorr PASS
expect_verdict nojitter PASS
expect_verdict nojitter-herd FAIL
expect_verdict constant FAIL
expect_verdict brk PASS
expect_verdict eager FAIL
expect_verdict opo PASS
expect_verdict none FAIL
check nojitter_herd_in_step bash -c "echo \"\$1\" | grep -q 'FAIL nojitter-herd: callers retry in step'" _ "$VOUT"
check constant_not_growing bash -c "echo \"\$1\" | grep -q 'FAIL constant: pauses do not grow'" _ "$VOUT"
check none_never_opened bash -c "echo \"\$1\" | grep -q 'FAIL none: .*the breaker never opened'" _ "$VOUT"
done_tests
