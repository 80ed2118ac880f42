#!/usr/bin/env bash
# retry_spacing judged from a real record, real retrying clients (urllib3, tests/verify/
# policy_client.py) through http proxies with an http_error 503 fault from 2s to 7s:
#   jittered  resilience4j's exponential random backoff (200 ms x 2^k, +/-50%)   PASS (min gap, growth, jitter)
#   stock     urllib3 Retry as shipped (first retry at once, then 0.4 s, 0.8 s) FAIL min_gap; FAIL jitter (a herd)
#   fixed     a constant 300 ms pause, no jitter                                FAIL growth, FAIL jitter; PASS with backoff = any
#   calm      the fault never applies (probability 0)                           INCONCLUSIVE (nothing failed)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

PYU=""
for py in python3 /usr/bin/python3; do "$py" -c 'import urllib3' 2>/dev/null && { PYU=$py; break; }; done
[ -n "$PYU" ] || { fail urllib3 "no python3 with urllib3 (apt-get install python3-urllib3)"; done_tests; exit; }
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="jittered stock fixed calm"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = spc1\ninstance = i1\n' "$REDIS_URL"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 2s\nduration = 5s\n' "$px" "$px"
        [ "$px" = calm ] && echo "probability = 0"
    done
} >"$TT/p.ini"
# The herds are judged with the default min_spread (30%): what spreads a fixed pause across
# calls is the client's own scheduling (python waking late), and on a loaded machine that alone
# spread the fixed client's 300 ms pauses over 301..342 ms (p10..p90; 13% of the median at load
# 20, 22% at load 10). Real jitter is far wider: the jittered client here (+/-50%) spreads
# ~70% (130..290 ms around 223 ms), botocore's full jitter ~160%. A herd still FAILs unless the
# machine adds more than 90 ms of spread to a 300 ms pause (120 ms to urllib3's 400 ms).
cat >"$TT/e.ini" <<INI
[expect jittered]
check = retry_spacing
proxy = jittered
min_gap = 80ms
backoff = exponential
jitter = required
[expect stock]
check = retry_spacing
proxy = stock
min_gap = 80ms
[expect stock-herd]
check = retry_spacing
proxy = stock
min_gap = 0
jitter = required
[expect fixed]
check = retry_spacing
proxy = fixed
min_gap = 200ms
backoff = exponential
[expect fixed-herd]
check = retry_spacing
proxy = fixed
min_gap = 200ms
jitter = required
[expect fixed-any]
check = retry_spacing
proxy = fixed
min_gap = 200ms
[expect calm]
check = retry_spacing
proxy = calm
min_gap = 80ms
INI
check check_accepts "$FL" check "$TT/e.ini"
RC="$PYU $(dirname "$0")/policy_client.py --duration 9 --rate 8 --go $TT/go"
$RC --url "http://127.0.0.1:${P[jittered]}/pay" --retry jitter:3:0.2:2:0.5 >"$TT/c.jittered" 2>&1 &
a=$!
$RC --url "http://127.0.0.1:${P[stock]}/pay" --retry stock:3:0.2 >"$TT/c.stock" 2>&1 &
b=$!
$RC --url "http://127.0.0.1:${P[fixed]}/pay" --retry fixed:3:0.3 >"$TT/c.fixed" 2>&1 &
c=$!
$RC --url "http://127.0.0.1:${P[calm]}/pay" --retry jitter:3:0.2:2:0.5 >"$TT/c.calm" 2>&1 &
d=$!
wait_for 60 bash -c "[ \$(cat $TT/c.jittered $TT/c.stock $TT/c.fixed $TT/c.calm | grep -c '^ready') = 4 ]" ||
    fail clients_ready "python clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
wait $a $b $c $d
for x in jittered stock fixed calm; do echo "# client $x: $(grep -v '^ready' "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" spc1
check exit_1 [ "$VRC" = 1 ]
expect_verdict jittered PASS
expect_verdict stock FAIL
expect_verdict stock-herd FAIL
expect_verdict fixed FAIL
expect_verdict fixed-herd FAIL
expect_verdict fixed-any PASS
expect_verdict calm INCONCLUSIVE
check stock_too_soon bash -c "echo \"\$1\" | grep -q 'FAIL stock: .* sooner than min_gap 80ms'" _ "$VOUT"
check stock_herd_in_step bash -c "echo \"\$1\" | grep -q 'FAIL stock-herd: callers retry in step'" _ "$VOUT"
check fixed_not_growing bash -c "echo \"\$1\" | grep -q 'FAIL fixed: pauses do not grow'" _ "$VOUT"
check fixed_herd_in_step bash -c "echo \"\$1\" | grep -q 'FAIL fixed-herd: callers retry in step'" _ "$VOUT"
check default_spread_30 bash -c "echo \"\$1\" | grep 'FAIL fixed-herd: ' | grep -q 'a spread under 30% of'" _ "$VOUT"
done_tests
