#!/usr/bin/env bash
# deadline and deadline_propagation judged from a real record of grpc proxies, with real gRPC
# clients and services (node @grpc/grpc-js, python3-grpcio).
#
# deadline: a hang on /test.Echo/Unary from 1 s to 3.5 s (released); clients call every 100 ms:
#   good       node client, 500 ms deadline               PASS (cancels each held call at 500 ms)
#   pygood     python client, timeout 500 ms              PASS
#   none       node client without a deadline             FAIL (no grpc-timeout)
#   pynone     python client without a timeout            FAIL
#   long       node client, 5 s deadline, max = 2s        FAIL (over max)
#   lazy       curl sending grpc-timeout 300m but waiting  FAIL (held calls end seconds after it)
#   idle       no traffic                                 INCONCLUSIVE
# deadline_propagation: client -> [ingress proxy] -> service (Chain) -> [egress proxy] -> backend;
# the client's deadline is 800 ms:
#   prop       node service passing the incoming deadline on           PASS
#   pyprop     python service passing what is left of it               PASS
#   fixed      node service calling with a fresh 10 s deadline         FAIL
#   pyno       python service calling without a deadline               FAIL
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/h2_lib.bash"
grpc_js_setup
PY=0; py_grpc && PY=1

start_redis || { fail redis_start; exit 1; }
start_grpc_server BACK || { fail backend_start; exit 1; }
declare -A P
for px in good pygood none pynone long idle lazy in-prop out-prop in-pyprop out-pyprop in-fixed out-fixed in-pyno out-pyno; do
    P[$px]=$(free_port)
done
f="$TT/p.ini"
{ printf '[faultline]\nadmin = off\nredis = %s\nrun = dl1\ninstance = i1\n' "$REDIS_URL"
  for px in good pygood none pynone long idle lazy; do px "$px" "${P[$px]}" "127.0.0.1:$BACK" mode=grpc; done
  for s in prop pyprop fixed pyno; do px "out-$s" "${P[out-$s]}" "127.0.0.1:$BACK" mode=grpc; done; } >"$f"
for px in good pygood none pynone long idle lazy; do
    h2fault "$f" "$px-hang" "$px" hang start=1s duration=2500ms on_end=release match_path=/test.Echo/Unary
done
# the services, each calling the backend through its egress proxy
start_grpc_server SPROP --dep "127.0.0.1:${P[out-prop]}" --propagate yes || fail service_prop
start_grpc_server SFIXED --dep "127.0.0.1:${P[out-fixed]}" --propagate fixed:10000 || fail service_fixed
if [ $PY = 1 ]; then
    start_grpc_py_server SPYPROP --dep "127.0.0.1:${P[out-pyprop]}" --propagate yes || fail service_pyprop
    start_grpc_py_server SPYNO --dep "127.0.0.1:${P[out-pyno]}" --propagate no || fail service_pyno
fi
declare -A S=([prop]=$SPROP [fixed]=$SFIXED [pyprop]=${SPYPROP:-1} [pyno]=${SPYNO:-1})
for s in prop pyprop fixed pyno; do px "in-$s" "${P[in-$s]}" "127.0.0.1:${S[$s]}" mode=grpc role=ingress >>"$f"; done
: >"$TT/e.ini"
# tolerances for a shared, busy machine (a client's timer or a service's event loop running a few
# hundred ms late); the failing cases are off by seconds or carry no deadline at all
for px in good pygood none pynone idle lazy; do printf '[expect %s]\ncheck = deadline\nproxy = %s\ntolerance = 400ms\n' "$px" "$px" >>"$TT/e.ini"; done
printf '[expect long]\ncheck = deadline\nproxy = long\nmax = 2s\n' >>"$TT/e.ini"
for s in prop pyprop fixed pyno; do
    printf '[expect prop-%s]\ncheck = deadline_propagation\nproxy = out-%s\ningress = in-%s\ntolerance = 300ms\n' "$s" "$s" "$s" >>"$TT/e.ini"
done
start_fl "$f" || { fail start; exit 1; }

# the clients: 45 calls 100 ms apart (4.5 s), 3 at a time so the held ones do not stop the rest
G() { gcall "127.0.0.1:${P[$1]}" Unary --n 45 --par 3 --every 100 "${@:2}" >"$TT/c.$1"; }
Y() { pycall "127.0.0.1:${P[$1]}" Unary --n 25 "${@:2}" >"$TT/c.$1"; }
G good --deadline-ms 500 & a=$!
G none & b=$!
G long --deadline-ms 5000 & c=$!
pids="$a $b $c"
# lazy: a deadline on the wire that nobody keeps (a header copied by hand, a client that sends
# grpc-timeout but does not enforce it): 3 lanes of curl calls, each willing to wait 5 s
printf '\0\0\0\0\4ping' >"$TT/msg.bin"
L() { for i in $(seq 1 15); do curl -s --http2-prior-knowledge -m 5 -o /dev/null -H 'content-type: application/grpc' \
    -H 'te: trailers' -H 'grpc-timeout: 300m' --data-binary @"$TT/msg.bin" "http://127.0.0.1:${P[lazy]}/test.Echo/Unary"; sleep 0.1; done; }
for i in 1 2 3; do L & pids="$pids $!"; done
if [ $PY = 1 ]; then
    Y pygood --timeout-ms 500 & pids="$pids $!"
    Y pynone & pids="$pids $!"
fi
for s in prop fixed pyprop pyno; do
    [ $PY = 0 ] && [ "${s#py}" != "$s" ] && continue
    gcall "127.0.0.1:${P[in-$s]}" Chain --n 10 --every 50 --deadline-ms 800 >"$TT/c.$s" & pids="$pids $!"
done
wait $pids
for x in good none long pygood pynone prop fixed pyprop pyno; do [ -f "$TT/c.$x" ] && echo "# client $x: $(tail -n1 "$TT/c.$x")"; done
stop_pid "$FL_PID"

vverify "$TT/e.ini" dl1
check exit_1 [ "$VRC" = 1 ]
expect_verdict good PASS
expect_verdict none FAIL
expect_verdict long FAIL
expect_verdict lazy FAIL
expect_verdict idle INCONCLUSIVE
expect_verdict prop-prop PASS
expect_verdict prop-fixed FAIL
if [ $PY = 1 ]; then
    expect_verdict pygood PASS
    expect_verdict pynone FAIL
    expect_verdict prop-pyprop PASS
    expect_verdict prop-pyno FAIL
else
    echo "# skip: python3-grpcio not installed (apt-get install python3-grpcio)"
fi
check none_says_why has 'carried no deadline' "$VOUT"
check long_says_max has 'over 2s' "$VOUT"
check lazy_says_late has 'FAIL lazy: .*ended .* after (its|their) deadline' "$VOUT"
check fixed_says_left has 'longer than what was left' "$VOUT"
done_tests
