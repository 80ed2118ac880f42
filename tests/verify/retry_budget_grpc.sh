#!/usr/bin/env bash
# retry_budget judges a real library's retry budget: @grpc/grpc-js with gRPC's retry policy (4
# attempts on UNAVAILABLE; retries carry grpc-previous-rpc-attempts), through grpc proxies, a
# grpc_error UNAVAILABLE fault on every call for 4 s (added by a reload once each client made 36
# calls, so every window around a retry holds a baseline of first attempts):
#   throttled  retryThrottling {maxTokens 10, tokenRatio 0.1} (gRFC A6's token bucket, grpc-js's
#              own RetryThrottler): a handful of retries, then none while the calls keep failing   PASS 20%
#   unbounded  the same retry policy without throttling: every failed call retried 3 times      FAIL 20%
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/h2_lib.bash"
grpc_js_setup

start_redis || { fail redis_start; exit 1; }
start_grpc_server GS || { fail server_start; exit 1; }
declare -A P
for px in throttled unbounded; do P[$px]=$(free_port); done
f="$TT/p.ini"
{ printf '[faultline]\nadmin = off\nredis = %s\nrun = rbg1\ninstance = i1\n' "$REDIS_URL"
  for px in throttled unbounded; do px "$px" "${P[$px]}" "127.0.0.1:$GS" mode=grpc; done; } >"$f"
: >"$TT/e.ini"
for px in throttled unbounded; do
    printf '[expect %s]\ncheck = retry_budget\nproxy = %s\nbudget = 20%%\nbudget_window = 10s\n' "$px" "$px" >>"$TT/e.ini"
done
check check_accepts "$FL" check "$TT/e.ini"
start_fl "$f" || { fail start; exit 1; }
gcall "127.0.0.1:${P[throttled]}" Unary --n 110 --every 80 --retry --throttle 10:0.1 --deadline-ms 2000 >"$TT/c.throttled" & a=$!
gcall "127.0.0.1:${P[unbounded]}" Unary --n 110 --every 80 --retry --deadline-ms 2000 >"$TT/c.unbounded" & b=$!
wait_for 30 bash -c "[ \$(grep -c '^call ' $TT/c.throttled) -ge 36 ] && [ \$(grep -c '^call ' $TT/c.unbounded) -ge 36 ]" ||
    fail clients_started
for px in throttled unbounded; do h2fault "$f" "$px-unavail" "$px" grpc_error status=unavailable duration=4s; done
kill -HUP "$FL_PID"
wait $a $b
for x in throttled unbounded; do echo "# client $x: $(tail -n1 "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" rbg1
check exit_1 [ "$VRC" = 1 ]
expect_verdict throttled PASS
expect_verdict unbounded FAIL
check unbounded_over_budget bash -c "echo \"\$1\" | grep -q 'FAIL unbounded: retries reached [0-9.]*% of first attempts'" _ "$VOUT"
done_tests
