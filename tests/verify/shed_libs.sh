#!/usr/bin/env bash
# shedding judges a service built on a real library: tests/verify/bulkhead_service.js bounds its
# calls to the dependency with cockatiel's bulkhead (npm; resilience4j's and Polly's Bulkhead
# for node), behind an ingress proxy; its dependency behind a proxy with a 500 ms latency fault
# from 3s to 8s; 30 calls/s of open-loop load (tests/peers/vclient.c, 5 s client timeout):
#   shed   bulkhead(4, 0): every slot busy, the excess is rejected (503) at once     PASS
#   queue  bulkhead(4, 1000): the excess waits in the bulkhead's queue, the backlog grows,
#          callers time out                                                       FAIL
# Skipped, with the reason, without node >= 18 or when npm cannot install cockatiel.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

resilience_setup || exit 0

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
SVCS="shed queue"
declare -A WEB PAY SVC QUEUE
QUEUE=([shed]=0 [queue]=1000)
for s in $SVCS; do WEB[$s]=$(free_port); PAY[$s]=$(free_port); SVC[$s]=$(free_port); done
{
    printf '[faultline]\nadmin = off\nredis = %s\nrun = shedlib1\ninstance = i1\n' "$REDIS_URL"
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
    COCKATIEL_DIR="$RES_DIR" node "$(dirname "$0")/bulkhead_service.js" "${SVC[$s]}" "http://127.0.0.1:${PAY[$s]}/pay" 4 \
        "${QUEUE[$s]}" >"$TT/svc.$s" 2>&1 &
    _PIDS+=($!)
done
for s in $SVCS; do wait_for 30 grep -qs '^listening' "$TT/svc.$s" || fail "svc_$s" "service did not start"; done
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --http /checkout --duration 10 --timeout 5000"
$C --addr "127.0.0.1:${WEB[shed]}" --rate 30 >"$TT/c.shed" &
a=$!
$C --addr "127.0.0.1:${WEB[queue]}" --rate 30 >"$TT/c.queue" &
b=$!
wait $a $b
for s in $SVCS; do echo "# client $s: $(cat "$TT/c.$s")"; done
sleep 1
stop_pid "$FL_PID"

vverify "$TT/e.ini" shedlib1
check exit_1 [ "$VRC" = 1 ]
expect_verdict shed PASS
expect_verdict queue FAIL
check queue_why bash -c "echo \"\$1\" | grep -q 'FAIL queue: accepted calls took .* the excess was queued instead of shed'" _ "$VOUT"
done_tests
