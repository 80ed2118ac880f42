#!/usr/bin/env bash
# check = recovery's baseline is the most connections open at once before the fault (each
# second's `peak`), not the end-of-second `cur`, and a leak still FAILs it (issue 19, item 10).
# Real clients behind one faultline, faults from 3 s for 2 s:
#   short  http, http_error 503 (ends cleanly), three curl loops of 1 ms calls 0.2 s apart:
#          a connection per call, rarely open at a second's end           recovery PASS, baseline >= 1
#   leak   tcp, latency 1 s, vclient 10 calls/s with a 300 ms timeout that walks away from
#          the connection it gave up on (--leak): ~20 connections stay open  recovery FAIL
# Then fixtures of the same shapes, so the verdicts do not hang on where seconds end:
#   fxshort  baseline seconds peak=1 cur=0; after the fault a 1 ms call caught at each
#            second's end (cur=1)                                            PASS (baseline 1)
#   fxpool   a pool that grows under load: baseline peak=4, cur 1..2; after the fault its
#            4 connections stay idle (cur=4)                                 PASS
#   fxleak   baseline peak=2 cur=0; after the fault cur=6 to the end               FAIL
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
start_peer ECHO 127.0.0.1:0 echo
PS=$(free_port); PL=$(free_port)
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = rs1"; echo "instance = i1"
    printf '[proxy short]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$PS" "$UP"
    printf '[fault short-503]\nproxy = short\ntype = http_error\nstatus = 503\nstart = 3s\nduration = 2s\n'
    printf '[proxy leak]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PL" "$ECHO"
    printf '[fault leak-slow]\nproxy = leak\ntype = latency\ndelay = 1s\nstart = 3s\nduration = 2s\n'
} >"$TT/p.ini"
# slack 0: the short-call client's own calls are its baseline
printf '[expect short-rec]\ncheck = recovery\nproxy = short\nwithin = 2s\n' >"$TT/e.ini"
printf '[expect leak-rec]\ncheck = recovery\nproxy = leak\nwithin = 2s\n' >>"$TT/e.ini"

curl_loop() {
    local end=$((SECONDS + $2))
    while [ $SECONDS -lt $end ]; do curl -s -m 1 -o /dev/null "$1"; sleep 0.2; done
}
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
W=()
for k in 1 2 3; do curl_loop "http://127.0.0.1:$PS/" 9 & W+=($!); done
"$TBIN/vclient" --addr "127.0.0.1:$PL" --rate 10 --duration 9 --timeout 300 --pool 0 --leak >"$TT/c.leak" &
L=$!
wait "${W[@]}"
sleep 1.2   # a last series bucket after the closes
stop_pid "$FL_PID"
wait "$L"
echo "# leak client: $(cat "$TT/c.leak")"
check leak_client_leaked grep -Eq 'leaked=[1-9]' "$TT/c.leak"
# the record has peaks above the end-of-second count for the short-call client
rcli hgetall fl:run:rs1:ts:short:i1 | paste - - | sort -n | sed 's/^/# short ts: /' | head -n 14

vverify "$TT/e.ini" rs1
expect_verdict short-rec PASS
expect_verdict leak-rec FAIL
check short_baseline_counts_calls bash -c "echo \"\$1\" | grep '^short-rec' | grep -Eq 'baseline [1-9]'" _ "$VOUT"
check leak_still_open bash -c "echo \"\$1\" | grep -Eq 'FAIL leak-rec: [0-9]+ connections still open 2s after the fault'" _ "$VOUT"

# fixtures: a fault from 5 s to 7 s of a 14 s run (bucket 6 ends as the fault does)
fx_run rs2 0 14
for px in fxshort fxpool fxleak; do
    fx_window rs2 "$px-f" "$px" http_error 5 7
    fx_fault rs2 "$px-f" "$px" http_error 4
    printf '[expect %s-rec]\ncheck = recovery\nproxy = %s\nwithin = 2s\n' "$px" "$px" >>"$TT/e2.ini"
done
for s in $(seq 0 13); do
    fx_ts rs2 fxshort "$s" "new=5 peak=1 cur=$([ "$s" -ge 6 ] && echo 1 || echo 0) req=5 err=0 inflight=0 faults=0 up=50 down=50"
    c=$((1 + s % 2)); [ "$s" -ge 6 ] && c=4
    fx_ts rs2 fxpool "$s" "new=1 peak=4 cur=$c req=40 err=0 inflight=0 faults=0 up=400 down=400"
    c=0; [ "$s" -ge 5 ] && c=6
    fx_ts rs2 fxleak "$s" "new=5 peak=$((c > 2 ? c : 2)) cur=$c req=5 err=0 inflight=0 faults=0 up=50 down=50"
done
vverify "$TT/e2.ini" rs2
expect_verdict fxshort-rec PASS
expect_verdict fxpool-rec PASS
expect_verdict fxleak-rec FAIL
check fxshort_baseline_is_peak bash -c "echo \"\$1\" | grep '^fxshort-rec' | grep -q 'baseline 1, back after'" _ "$VOUT"
check fxleak_says_leaked bash -c "echo \"\$1\" | grep -q 'FAIL fxleak-rec: 6 connections still open 2s after the fault (baseline 2): leaked?'" _ "$VOUT"
done_tests
