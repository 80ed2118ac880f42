#!/usr/bin/env bash
# bulkhead judged from a real record: a client calls two dependencies (A hung by a fault from
# 3s to 7s, B healthy). Sharing one limit of 10 calls in progress between them (no bulkhead)
# starves B while A hangs; a separate limit per dependency keeps B flowing. A third pair whose
# fault never applies (probability 0) is INCONCLUSIVE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
declare -A P
PXS="a1 b1 a2 b2 a3 b3"
for px in $PXS; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = bh1"; echo "instance = i1"
    for px in $PXS; do printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$px" "${P[$px]}" "$UP"; done
    for px in a1 a2 a3; do
        printf '[fault %s-hang]\nproxy = %s\ntype = hang\nstart = 3s\nduration = 4s\n' "$px" "$px"
        [ "$px" = a3 ] && echo "probability = 0"
    done
} >"$TT/p.ini"
cat >"$TT/e.ini" <<INI
[expect shared]
check = bulkhead
proxy = a1
other = b1
min_ratio = 80%
[expect separate]
check = bulkhead
proxy = a2
other = b2
min_ratio = 80%
measure = bytes
[expect never]
check = bulkhead
proxy = a3
other = b3
measure = bytes
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --duration 10 --rate 20 --rate2 20 --conc 10 --pool 10"
$C --addr "127.0.0.1:${P[a1]}" --addr2 "127.0.0.1:${P[b1]}" >"$TT/c.1" &
x=$!
$C --addr "127.0.0.1:${P[a2]}" --addr2 "127.0.0.1:${P[b2]}" --bulkhead >"$TT/c.2" &
y=$!
$C --addr "127.0.0.1:${P[a3]}" --addr2 "127.0.0.1:${P[b3]}" >"$TT/c.3" &
z=$!
wait $x $y $z
for f in 1 2 3; do echo "# client $f: $(cat "$TT/c.$f")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" bh1
check exit_1 [ "$VRC" = 1 ]
expect_verdict shared FAIL
expect_verdict separate PASS
expect_verdict never INCONCLUSIVE
check shared_says_starved bash -c "echo \"\$1\" | grep -q \"FAIL shared: 'b1' fell to\"" _ "$VOUT"
done_tests
