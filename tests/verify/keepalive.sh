#!/usr/bin/env bash
# A held call on a tcp proxy is read from the record's turns (call_open_ms, call_max_ms), not
# from "the client's last bytes to the close": keep-alive clients (Python http.client, one
# persistent connection) through tcp proxies in front of an HTTP upstream, faults from 2 s:
#   kalat      latency 300 ms: calls at 0.5-1.1 s and at 3.0/3.4 s, then idle until 9 s   timeout: not FAIL
#   kaslow     latency 4 s, a call at 3 s with no timeout: waits it out                    timeout: FAIL
#   katimeout  latency 4 s, a call at 3 s with a 0.8 s timeout: hangs up                   timeout: PASS
#   kahang     hang 3-6 s: calls before it, then idle in the pool through it until 9 s     timeout: not FAIL,
#              recovery: PASS (an idle pooled connection the hold caught is no leaked call)
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="kalat kaslow katimeout kahang"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = ka1"; echo "instance = i1"
    for px in $PXS; do printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$px" "${P[$px]}" "$UP"; done
    printf '[fault lat]\nproxy = kalat\ntype = latency\ndelay = 300ms\nstart = 2s\nduration = 8s\n'
    printf '[fault slow]\nproxy = kaslow\ntype = latency\ndelay = 4s\nstart = 2s\nduration = 8s\n'
    printf '[fault slow2]\nproxy = katimeout\ntype = latency\ndelay = 4s\nstart = 2s\nduration = 8s\n'
    printf '[fault stall]\nproxy = kahang\ntype = hang\nstart = 3s\nduration = 3s\n'
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in $PXS; do printf '[expect %s]\ncheck = timeout\nproxy = %s\nwithin = 2s\n' "$px" "$px" >>"$TT/e.ini"; done
printf '[expect kahang-rec]\ncheck = recovery\nproxy = kahang\nwithin = 2s\n' >>"$TT/e.ini"

KC="python3 $(dirname "$0")/ka_client.py --go $TT/go"
$KC --addr "127.0.0.1:${P[kalat]}" --at 0.5,0.8,1.1,3.0,3.4 --close-at 9 --timeout 2 >"$TT/c.kalat" 2>&1 &
a=$!
$KC --addr "127.0.0.1:${P[kaslow]}" --at 0.5,0.8,3.0 --close-at 8.5 >"$TT/c.kaslow" 2>&1 &
b=$!
$KC --addr "127.0.0.1:${P[katimeout]}" --at 0.5,0.8,3.0 --close-at 8.5 --timeout 0.8 >"$TT/c.katimeout" 2>&1 &
c=$!
$KC --addr "127.0.0.1:${P[kahang]}" --at 0.5,0.8,1.1 --close-at 9 --timeout 2 >"$TT/c.kahang" 2>&1 &
d=$!
wait_for 60 bash -c "[ \$(cat $TT/c.kalat $TT/c.kaslow $TT/c.katimeout $TT/c.kahang | grep -c '^ready') = 4 ]" ||
    fail clients_ready "python clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
wait $a $b $c $d
for x in $PXS; do echo "# client $x: $(grep -v '^ready' "$TT/c.$x")"; done
sleep 1.2   # a last series bucket after the closes
stop_pid "$FL_PID"
rcli xrange fl:run:ka1:events:kalat - + | tr '\n' ' ' | sed 's/^/# kalat events: /'
echo

vverify "$TT/e.ini" ka1
check exit_1 [ "$VRC" = 1 ]
check kalat_not_FAIL bash -c "[ '$(verdict kalat)' != FAIL ] && [ -n '$(verdict kalat)' ]"
expect_verdict kaslow FAIL
expect_verdict katimeout PASS
check kahang_not_FAIL bash -c "[ '$(verdict kahang)' != FAIL ] && [ -n '$(verdict kahang)' ]"
expect_verdict kahang-rec PASS
check kahang_idle_conn_no_held_call bash -c "echo \"\$1\" | grep '^kahang ' | grep -q ' 0 held calls'" _ "$VOUT"
check kaslow_why bash -c "echo \"\$1\" | grep -q 'FAIL kaslow: 1 call stayed held longer than 2s without the client giving up'" _ "$VOUT"
check katimeout_abandoned bash -c "echo \"\$1\" | grep '^katimeout ' | grep -q '1 abandoned'" _ "$VOUT"
# the record: the slowed call of kalat finished (call_max_ms ~300), nothing left open at the close
check kalat_call_max_recorded bash -c "rcli() { redis-cli -s '$REDIS_SOCK' \"\$@\"; }; v=\$(rcli xrange fl:run:ka1:events:kalat - + | grep -A1 -x call_max_ms | sed -n 2p); awk -v v=\"\$v\" 'BEGIN { exit !(v >= 250 && v < 2000) }'"
check kalat_no_open_call bash -c "! redis-cli -s '$REDIS_SOCK' xrange fl:run:ka1:events:kalat - + | grep -qx call_open_ms"
done_tests
