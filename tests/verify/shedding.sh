#!/usr/bin/env bash
# shedding judged from a real record: a real service (tests/verify/shed_service.py, 4 workers)
# behind an ingress proxy, its dependency behind a proxy with a 500 ms latency fault from 3s to
# 8s, and 30 calls/s of open-loop load (tests/peers/vclient.c, 5 s client timeout):
#   shed    extra requests answered 503 at once while every worker waits on the dependency  PASS
#   queue   extra requests wait for a worker: the backlog grows, callers time out           FAIL
#   light   the shedding service at 3 calls/s: never more than it can serve                  INCONCLUSIVE
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

PYU=""
for py in python3 /usr/bin/python3; do "$py" -c 'import urllib3' 2>/dev/null && { PYU=$py; break; }; done
[ -n "$PYU" ] || { fail urllib3 "no python3 with urllib3 (apt-get install python3-urllib3)"; done_tests; exit; }
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
SVCS="shed queue light"
declare -A WEB PAY SVC
for s in $SVCS; do WEB[$s]=$(free_port); PAY[$s]=$(free_port); SVC[$s]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = shed1\ninstance = i1\n' "$REDIS_URL"
    for s in $SVCS; do
        printf '[proxy web-%s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\nrole = ingress\n' "$s" "${WEB[$s]}" "${SVC[$s]}"
        printf '[proxy pay-%s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$s" "${PAY[$s]}" "$UP"
        printf '[fault pay-%s-slow]\nproxy = pay-%s\ntype = latency\ndelay = 500ms\nstart = 3s\nduration = 5s\n' "$s" "$s"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for s in $SVCS; do
    printf '[expect %s]\ncheck = shedding\nproxy = web-%s\nfault = pay-%s-slow\nreject_within = 250ms\np99 = 1.5s\nmin_requests = 10\n' "$s" "$s" "$s" >>"$TT/e.ini"
done
check check_accepts "$FL" check "$TT/e.ini"
for s in $SVCS; do
    mode=$s; [ "$s" = light ] && mode=shed
    $PYU "$(dirname "$0")/shed_service.py" --listen "${SVC[$s]}" --dep "http://127.0.0.1:${PAY[$s]}/pay" --workers 4 \
        --mode "$mode" >"$TT/svc.$s" 2>&1 &
    _PIDS+=($!)
done
for s in $SVCS; do wait_for 30 grep -q '^listening' "$TT/svc.$s" || fail "svc_$s" "service did not start"; done
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --http /checkout --duration 10 --timeout 5000"
$C --addr "127.0.0.1:${WEB[shed]}" --rate 30 >"$TT/c.shed" &
a=$!
$C --addr "127.0.0.1:${WEB[queue]}" --rate 30 >"$TT/c.queue" &
b=$!
$C --addr "127.0.0.1:${WEB[light]}" --rate 3 >"$TT/c.light" &
c=$!
wait $a $b $c
for s in $SVCS; do echo "# client $s: $(cat "$TT/c.$s")"; done
sleep 1
stop_pid "$FL_PID"

vverify "$TT/e.ini" shed1
check exit_1 [ "$VRC" = 1 ]
expect_verdict shed PASS
expect_verdict queue FAIL
expect_verdict light INCONCLUSIVE
check queue_why bash -c "echo \"\$1\" | grep -q 'FAIL queue: accepted calls took .* the excess was queued instead of shed'" _ "$VOUT"
check light_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE light: nothing was rejected .*nothing to shed'" _ "$VOUT"
done_tests
