#!/usr/bin/env bash
# half_open judged from a real record, real clients with client-side breakers (urllib3, tests/
# verify/policy_client.py) at 20 calls/s through http proxies with an http_error 503 fault from
# 2s to 7s:
#   gobreaker  opens after 5 failures, one probe after 1 s (MaxRequests 1), re-opens on a failed
#              probe, closes on a good one                                      PASS
#   naive      no half-open state: closes again after 1 s and needs 5 more failures to trip: a
#              burst of 5 calls each time                                       FAIL (burst)
#   eager      half-open after 100 ms: probes far sooner than after_min         FAIL (never opened for after_min)
#   none       no breaker: calls keep coming through the fault                   FAIL (never opened)
#   calm       the fault never applies (probability 0)                           INCONCLUSIVE
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

PYU=""
for py in python3 /usr/bin/python3; do "$py" -c 'import urllib3' 2>/dev/null && { PYU=$py; break; }; done
[ -n "$PYU" ] || { fail urllib3 "no python3 with urllib3 (apt-get install python3-urllib3)"; done_tests; exit; }
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="gobreaker naive eager none calm"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = ho1\ninstance = i1\n' "$REDIS_URL"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 2s\nduration = 5s\n' "$px" "$px"
        [ "$px" = calm ] && echo "probability = 0"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in $PXS; do
    printf '[expect %s]\ncheck = half_open\nproxy = %s\nafter_min = 800ms\nafter_max = 1.6s\n' "$px" "$px" >>"$TT/e.ini"
done
check check_accepts "$FL" check "$TT/e.ini"
RC="$PYU $(dirname "$0")/policy_client.py --duration 10 --rate 20 --go $TT/go"
$RC --url "http://127.0.0.1:${P[gobreaker]}/pay" --breaker gobreaker:5:1 >"$TT/c.gobreaker" 2>&1 &
a=$!
$RC --url "http://127.0.0.1:${P[naive]}/pay" --breaker naive:5:1 >"$TT/c.naive" 2>&1 &
b=$!
$RC --url "http://127.0.0.1:${P[eager]}/pay" --breaker gobreaker:5:0.1 >"$TT/c.eager" 2>&1 &
c=$!
$RC --url "http://127.0.0.1:${P[none]}/pay" >"$TT/c.none" 2>&1 &
d=$!
$RC --url "http://127.0.0.1:${P[calm]}/pay" --breaker gobreaker:5:1 >"$TT/c.calm" 2>&1 &
f=$!
wait_for 60 bash -c "[ \$(cat $TT/c.gobreaker $TT/c.naive $TT/c.eager $TT/c.none $TT/c.calm | grep -c '^ready') = 5 ]" ||
    fail clients_ready "python clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
wait $a $b $c $d $f
for x in $PXS; do echo "# client $x: $(grep -v '^ready' "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" ho1
check exit_1 [ "$VRC" = 1 ]
expect_verdict gobreaker PASS
expect_verdict naive FAIL
expect_verdict eager FAIL
expect_verdict none FAIL
expect_verdict calm INCONCLUSIVE
check naive_burst bash -c "echo \"\$1\" | grep -q 'FAIL naive: .*a burst of [0-9]* calls went through half-open'" _ "$VOUT"
check none_never_opened bash -c "echo \"\$1\" | grep -q 'FAIL none: .*the breaker never opened'" _ "$VOUT"
done_tests
