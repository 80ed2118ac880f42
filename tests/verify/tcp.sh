#!/usr/bin/env bash
# timeout, pool and recovery judged from a real record: three real clients behind one
# faultline (a hang fault from 3s to 6s on each proxy) -- one with a 500 ms timeout and a pool
# of 5 (good), one with no timeout and no pool bound (bad), one that times out but leaks the
# connection (bad) -- plus a proxy with traffic whose fault never applies (probability 0) and
# a faulted proxy with no traffic: INCONCLUSIVE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
declare -A P
# pool max = pool size + 2: a connection the client closed stays counted until the upstream has
# closed its side too, so a pool replacing timed-out connections overlaps briefly (docs/verify.md)
for px in good nolimit leak never idle; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = tcp1"; echo "instance = i1"
    for px in good nolimit leak never idle; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-hang]\nproxy = %s\ntype = hang\nstart = 3s\nduration = 3s\n' "$px" "$px"
        [ "$px" = never ] && echo "probability = 0"
    done
} >"$TT/p.ini"
cat >"$TT/e.ini" <<INI
; a scenario-style file: these sections are tolerated by verify
[faultline]
redis = unix:/nonexistent/overridden-by---redis.sock
[proxy good]
listen = 127.0.0.1:1
upstream = 127.0.0.1:2
[proxy nolimit]
listen = 127.0.0.1:3
upstream = 127.0.0.1:2
[proxy leak]
listen = 127.0.0.1:4
upstream = 127.0.0.1:2
[proxy never]
listen = 127.0.0.1:5
upstream = 127.0.0.1:2
[proxy idle]
listen = 127.0.0.1:6
upstream = 127.0.0.1:2
[phase baseline]
duration = 3s
INI
# pool max = pool size + 2: a connection the client closed stays counted until the upstream has
# closed its side too, so a pool replacing timed-out connections overlaps briefly (docs/verify.md)
for px in good nolimit leak never idle; do
    cat >>"$TT/e.ini" <<INI
[expect $px-timeout]
check = timeout
proxy = $px
within = 2s
[expect $px-pool]
check = pool
proxy = $px
max = 7
[expect $px-recovery]
check = recovery
proxy = $px
within = 2s
slack = 5
INI
done
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --rate 20 --duration 10"
$C --addr "127.0.0.1:${P[good]}" --timeout 500 --pool 5 >"$TT/c.good" &
G=$!
$C --addr "127.0.0.1:${P[nolimit]}" >"$TT/c.nolimit" &
N=$!
$C --addr "127.0.0.1:${P[leak]}" --timeout 500 --pool 5 --leak >"$TT/c.leak" &
L=$!
$C --addr "127.0.0.1:${P[never]}" --timeout 500 --pool 5 >"$TT/c.never" &
V=$!
wait $G $N $L $V
for f in good nolimit leak never; do echo "# client $f: $(cat "$TT/c.$f")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" tcp1 --junit "$TT/j.xml" --json "$TT/j.json"
check exit_1_when_any_fails [ "$VRC" = 1 ]
expect_verdict good-timeout PASS
expect_verdict good-pool PASS
expect_verdict good-recovery PASS
expect_verdict nolimit-timeout FAIL
expect_verdict nolimit-pool FAIL
expect_verdict nolimit-recovery FAIL
expect_verdict leak-recovery FAIL
expect_verdict leak-timeout FAIL
expect_verdict never-timeout INCONCLUSIVE
expect_verdict never-pool INCONCLUSIVE
expect_verdict never-recovery INCONCLUSIVE
expect_verdict idle-timeout INCONCLUSIVE
expect_verdict idle-pool INCONCLUSIVE
check never_says_not_applied bash -c "echo \"\$1\" | grep -q 'never-timeout: fault never-hang never applied'" _ "$VOUT"
check good_timeout_measures_500ms bash -c "echo \"\$1\" | grep '^good-timeout' | grep -Eq 'max waited ((4[89][0-9]|[5-9][0-9][0-9])ms|1\.[0-9]+s)'" _ "$VOUT"
check nolimit_pool_above_7 bash -c "echo \"\$1\" | grep '^nolimit-pool' | grep -Eq 'peak ([89]|[1-9][0-9]+) concurrent'" _ "$VOUT"
if command -v xmllint >/dev/null; then
    check junit_valid_xml xmllint --noout "$TT/j.xml"
else
    check junit_valid_xml python3 -c "import sys, xml.dom.minidom; xml.dom.minidom.parse(sys.argv[1])" "$TT/j.xml"
fi
nf=$(echo "$VOUT" | grep -c '^FAIL ')
ni=$(echo "$VOUT" | grep -c '^INCONCLUSIVE ')
check junit_counts grep -q "tests=\"15\" failures=\"$nf\" skipped=\"$ni\"" "$TT/j.xml"
check junit_failure_elements [ "$(grep -c '<failure ' "$TT/j.xml")" = "$nf" ]
check json_valid python3 -c "import json, sys; d = json.load(open(sys.argv[1])); assert d['exit'] == 1 and len(d['results']) == 15" "$TT/j.json"

# only the good proxy: every expectation passes -> 0
grep -A4 '^\[expect good-' "$TT/e.ini" | grep -v '^--' >"$TT/good.ini"
vverify "$TT/good.ini" tcp1
check exit_0_all_pass [ "$VRC" = 0 ]
# only inconclusive ones -> 3
grep -A4 '^\[expect never-' "$TT/e.ini" | grep -v '^--' >"$TT/never.ini"
vverify "$TT/never.ini" tcp1
check exit_3_inconclusive [ "$VRC" = 3 ]
# an unknown run: bad input (exit 2), and the error lists the runs the record knows
vverify "$TT/good.ini" no-such-run
check unknown_run_exit_2 [ "$VRC" = 2 ]
check unknown_run_lists_known bash -c "echo \"\$1\" | grep -q \"run 'no-such-run' is not in the record at .*; known runs, newest first: .*tcp1\"" _ "$VOUT"
done_tests
