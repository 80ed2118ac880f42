#!/usr/bin/env bash
# The existing checks that grpc_checks.sh leaves out, on grpc and http2 proxies, from a real
# record with real clients (node @grpc/grpc-js through tests/peers/grpc_peer.js; curl over
# HTTP/2 with prior knowledge), a good client and a bad one for each:
#   breaker   grpc_error UNAVAILABLE from 5 s to 8 s (mode = grpc), calls every 25 ms:
#             bgood  a breaker (opens after 5 failures for 2 s, then one probe)          PASS
#             bnone  no breaker: it keeps calling into the failing dependency           FAIL
#   recovery  hang (on_end = keep) from 5 s to 7 s (mode = grpc), 3 calls at a time:
#             rgood  500 ms deadlines: each held call is cancelled                      PASS
#             rnone  no deadline: the held calls stay open after the fault              FAIL
#             rnone's 3 held calls share one connection: counted per stream, "3 held calls
#             left open (on 1 connection)", not once per connection
#   timeout   hang (on_end = keep) from 5 s to 7 s (mode = http2), curl in 3 lanes:
#             tgood  curl -m 0.5: each held stream is given up                          PASS
#             tnone  h2load without a timeout: the held streams wait                    FAIL
#   pool      tnone's streams in flight (3 h2load, one connection and one stream each): max = 3
#             PASS, max = 2 FAIL; its connections likewise (measure = connections); rnone's 3 held streams share one
#             HTTP/2 connection: connections max = 1 PASS, streams max = 2 FAIL
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/h2_lib.bash"
grpc_js_setup

start_redis || { fail redis_start; exit 1; }
start_grpc_server GS || { fail server_start; exit 1; }
start_h2up UP || { fail h2up_start; exit 1; }
declare -A P
for px in bgood bnone rgood rnone tgood tnone; do P[$px]=$(free_port); done
f="$TT/p.ini"
{ printf '[faultline]\nadmin = off\nredis = %s\nrun = h2c1\ninstance = i1\n' "$REDIS_URL"
  for px in bgood bnone rgood rnone; do px "$px" "${P[$px]}" "127.0.0.1:$GS" mode=grpc; done
  for px in tgood tnone; do px "$px" "${P[$px]}" "127.0.0.1:$UP" mode=http2; done; } >"$f"
for px in bgood bnone; do h2fault "$f" "$px-503" "$px" grpc_error status=unavailable start=5s duration=3s; done
for px in rgood rnone tgood tnone; do h2fault "$f" "$px-hang" "$px" hang on_end=keep start=5s duration=2s; done
cat >"$TT/e.ini" <<EOT
[expect bgood]
check = breaker
proxy = bgood
open_within = 1s
max_probes = 2
probe_window = 2s
recover_ratio = 50%
recover_within = 4s
[expect bnone]
check = breaker
proxy = bnone
open_within = 1s
max_probes = 2
probe_window = 2s
recover_ratio = 50%
recover_within = 4s
[expect rgood]
check = recovery
proxy = rgood
within = 2s
[expect rnone]
check = recovery
proxy = rnone
within = 2s
[expect tgood]
check = timeout
proxy = tgood
within = 1s
[expect tnone]
check = timeout
proxy = tnone
within = 1s
[expect pool3]
check = pool
proxy = tnone
max = 3
[expect pool2]
check = pool
proxy = tnone
max = 2
[expect poolc3]
check = pool
proxy = tnone
measure = connections
max = 3
[expect poolc2]
check = pool
proxy = tnone
measure = connections
max = 2
[expect gconns1]
check = pool
proxy = rnone
measure = connections
max = 1
[expect gstreams2]
check = pool
proxy = rnone
max = 2
EOT
start_fl "$f" || { fail start; exit 1; }
T0=$(date +%s.%N)

# the clients run until the record stops (the faults are over by 8 s; recover_within ends at
# 12 s): many more calls than they can make, stopped with the daemon
C() { node "$H2DIR/tests/peers/grpc_peer.js" call "127.0.0.1:${P[$1]}" Unary "${@:2}" >"$TT/c.$1" 2>&1 & _PIDS+=($!); }
C bgood --n 100000 --every 25 --deadline-ms 1000 --breaker 5,2000
C bnone --n 100000 --every 25 --deadline-ms 1000
C rgood --n 100000 --par 3 --every 100 --deadline-ms 500
C rnone --n 100000 --par 3 --every 100
lane() {   # curl calls 100 ms apart; ARGS: the proxy, then curl's own
    local px=$1
    shift
    while :; do curl -s --http2-prior-knowledge -o /dev/null "$@" "http://127.0.0.1:${P[$px]}/x"; sleep 0.1; done
}
# tnone's lanes keep one connection each, as a pooled client does: h2load with one connection,
# one stream at a time, 10 requests a second, and no timeout (curl 7.88 cannot reuse a
# prior-knowledge connection for a second URL). A new connection per call (as tgood's lanes,
# whose -m is per invocation) overlaps the last one while the upstream closes its side, and that
# counted 5 connections for 3 lanes under ASan at load 6
lane1() { h2load -c 1 -m 1 -n 200 --rps 10 "http://127.0.0.1:${P[$1]}/x" >/dev/null 2>&1; }
for i in 1 2 3; do
    lane tgood -m 0.5 & _PIDS+=($!)
    lane1 tnone & _PIDS+=($!)
done
sleep "$(awk -v t0="$T0" -v now="$(date +%s.%N)" 'BEGIN { d = 13 - (now - t0); printf "%.2f\n", (d > 0 ? d : 0) }')"
stop_pid "$FL_PID"
for x in bgood bnone rgood rnone; do echo "# client $x: $(grep -c '^call ' "$TT/c.$x") calls, $(grep -c 'breaker open' "$TT/c.$x") failed by its breaker"; done

vverify "$TT/e.ini" h2c1
check exit_1 [ "$VRC" = 1 ]
expect_verdict bgood PASS
expect_verdict bnone FAIL
expect_verdict rgood PASS
expect_verdict rnone FAIL
expect_verdict tgood PASS
expect_verdict tnone FAIL
expect_verdict pool3 PASS
expect_verdict pool2 FAIL
expect_verdict poolc3 PASS
expect_verdict poolc2 FAIL
expect_verdict gconns1 PASS
expect_verdict gstreams2 FAIL
check bnone_says_rate has 'FAIL bnone: .*rate' "$VOUT"
check rnone_counts_3_held_streams has '^rnone .*; 3 held calls left open \(on 1 connection\)' "$VOUT"
check rnone_why_3_held_streams has '^FAIL rnone: 3 held calls still open 2s after the fault ended \(on 1 connection\)' "$VOUT"
check rgood_no_held_calls has '^rgood .*; 0 held calls left open ' "$VOUT"
done_tests
