#!/usr/bin/env bash
# breaker and retries judged from a real record of http proxies: an http_error (503) fault from
# 3s to 7s; real clients: one with a circuit breaker (opens after 5 failures for 2s, one probe
# when half-open) and one without; one retrying 5 times at once (a storm), one retrying twice
# with exponential backoff (300ms, 600ms), one retrying twice without backoff. A proxy with
# traffic whose fault never applies (probability 0) and a faulted one with no traffic are
# INCONCLUSIVE.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="brk brknone storm backoff flat calm idle"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = http1"; echo "instance = i1"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 3s\nduration = 4s\n' "$px" "$px"
        [ "$px" = calm ] && echo "probability = 0"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in brk brknone calm idle; do
    cat >>"$TT/e.ini" <<INI
[expect $px-breaker]
check = breaker
proxy = $px
open_within = 1s
max_probes = 2
probe_window = 2s
recover_ratio = 50%
recover_within = 5s
INI
done
for px in storm backoff flat calm idle; do
    cat >>"$TT/e.ini" <<INI
[expect $px-retries]
check = retries
proxy = $px
max_attempts = 3
backoff = yes
min_backoff = 50ms
INI
done
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C="$TBIN/vclient --http / --duration 12 --timeout 2000 --pool 4"
$C --addr "127.0.0.1:${P[brk]}" --rate 40 --breaker 5,2000 >"$TT/c.brk" &
a=$!
$C --addr "127.0.0.1:${P[brknone]}" --rate 40 >"$TT/c.brknone" &
b=$!
$C --addr "127.0.0.1:${P[storm]}" --rate 10 --retries 5,0 >"$TT/c.storm" &
c=$!
$C --addr "127.0.0.1:${P[backoff]}" --rate 10 --retries 2,300 >"$TT/c.backoff" &
d=$!
$C --addr "127.0.0.1:${P[flat]}" --rate 10 --retries 2,0 >"$TT/c.flat" &
e=$!
$C --addr "127.0.0.1:${P[calm]}" --rate 10 --retries 2,0 >"$TT/c.calm" &
f=$!
wait $a $b $c $d $e $f
for x in brk brknone storm backoff flat calm; do echo "# client $x: $(cat "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" http1 --junit "$TT/j.xml"
check exit_1 [ "$VRC" = 1 ]
expect_verdict brk-breaker PASS
expect_verdict brknone-breaker FAIL
expect_verdict calm-breaker INCONCLUSIVE
expect_verdict idle-breaker INCONCLUSIVE
expect_verdict storm-retries FAIL
expect_verdict backoff-retries PASS
expect_verdict flat-retries FAIL
expect_verdict calm-retries INCONCLUSIVE
expect_verdict idle-retries INCONCLUSIVE
check storm_counts_6_attempts bash -c "echo \"\$1\" | grep '^storm-retries' | grep -q 'max 6 attempts'" _ "$VOUT"
check storm_by_request_id bash -c "echo \"\$1\" | grep '^storm-retries' | grep -q 'by request id'" _ "$VOUT"
check flat_blamed_on_backoff bash -c "echo \"\$1\" | grep -q 'FAIL flat-retries: .*sooner than min_backoff 50ms'" _ "$VOUT"
check brknone_blamed_on_rate bash -c "echo \"\$1\" | grep -q 'FAIL brknone-breaker: the call rate fell only'" _ "$VOUT"
check junit_valid xmllint --noout "$TT/j.xml"

# fingerprint mode (ids ignored): attempts per call estimated from the rate rise per method+path;
# the 503 fault answers at once, so the requests end far faster than in the baseline, and a caller
# that sends its next request when the last one ends would raise its rate as much without retrying:
# neither the storm nor the calm caller can be judged from the rate (INCONCLUSIVE, never FAIL/PASS)
cat >"$TT/fp.ini" <<INI
[expect storm-fp]
check = retries
proxy = storm
id = fingerprint
max_attempts = 3
window = 1s
[expect brknone-fp]
check = retries
proxy = brknone
id = fingerprint
max_attempts = 3
window = 1s
INI
vverify "$TT/fp.ini" http1
expect_verdict storm-fp INCONCLUSIVE
expect_verdict brknone-fp INCONCLUSIVE
check storm_fp_says_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE storm-fp: the rate of a repeated request rose .*faster.*id_header'" _ "$VOUT"
check storm_fp_about_6x bash -c "echo \"\$1\" | grep '^storm-fp' | grep -Eq '~([4-9]|1[0-4])\.[0-9] attempts'" _ "$VOUT"
done_tests
