#!/usr/bin/env bash
# retry_budget judged from a real record, real retrying clients (urllib3, tests/verify/
# policy_client.py) at 20 calls/s through http proxies with an http_error 503 fault from 2s to
# 8s (every attempt fails):
#   budget    3 retries per call, spent from a 20% retry budget over 10 s (Finagle's shape) PASS at 25%
#   nobudget  urllib3 Retry(total=3) alone: every failed call retried 3 times            FAIL (300%)
#   calm      the fault never applies (probability 0)                                    INCONCLUSIVE
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

PYU=""
for py in python3 /usr/bin/python3; do "$py" -c 'import urllib3' 2>/dev/null && { PYU=$py; break; }; done
[ -n "$PYU" ] || { fail urllib3 "no python3 with urllib3 (apt-get install python3-urllib3)"; done_tests; exit; }
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="budget nobudget calm"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = bud1\ninstance = i1\n' "$REDIS_URL"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 2s\nduration = 6s\n' "$px" "$px"
        [ "$px" = calm ] && echo "probability = 0"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in $PXS; do printf '[expect %s]\ncheck = retry_budget\nproxy = %s\nbudget = 25%%\n' "$px" "$px" >>"$TT/e.ini"; done
check check_accepts "$FL" check "$TT/e.ini"
RC="$PYU $(dirname "$0")/policy_client.py --duration 10 --rate 20 --go $TT/go"
$RC --url "http://127.0.0.1:${P[budget]}/pay" --retry jitter:3:0.05:2:0.5 --budget 0.2:10 >"$TT/c.budget" 2>&1 &
a=$!
$RC --url "http://127.0.0.1:${P[nobudget]}/pay" --retry jitter:3:0.05:2:0.5 >"$TT/c.nobudget" 2>&1 &
b=$!
$RC --url "http://127.0.0.1:${P[calm]}/pay" --retry jitter:3:0.05:2:0.5 >"$TT/c.calm" 2>&1 &
c=$!
wait_for 60 bash -c "[ \$(cat $TT/c.budget $TT/c.nobudget $TT/c.calm | grep -c '^ready') = 3 ]" ||
    fail clients_ready "python clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
wait $a $b $c
for x in $PXS; do echo "# client $x: $(grep -v '^ready' "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" bud1
check exit_1 [ "$VRC" = 1 ]
expect_verdict budget PASS
expect_verdict nobudget FAIL
expect_verdict calm INCONCLUSIVE
check nobudget_why bash -c "echo \"\$1\" | grep -Eq 'FAIL nobudget: retries reached [0-9]{3}% of first attempts over 10s'" _ "$VOUT"
done_tests
