#!/usr/bin/env bash
# mode = grpc with real gRPC stacks: node's @grpc/grpc-js (client and server) and Debian's
# python3-grpcio (client and server), unary and streaming calls through the proxy (cleartext, and
# TLS with ALPN h2 for grpc-js checking the proxy's certificate), and the
# faults per call and per message: grpc_error (trailers-only on the wire, as nghttp reads it; the
# status each client reports; a whole service matched by a glob), latency on every message of a
# stream (response messages of a server stream, request messages of a bidi call), hang after N
# messages (released when the fault ends), grpc_cut (half a message, then RST_STREAM: the client
# fails the call), h2_ping_drop against a client with keepalive (it gives the connection up and
# opens another). The record carries the method, grpc-status, grpc-timeout, message counts and
# who cancelled.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../record/common.bash"
. "$(dirname "$0")/h2_lib.bash"
. "$(dirname "$0")/tls_lib.bash"
grpc_js_setup

start_redis || { fail redis_start; done_tests; exit; }
start_grpc_server GS || { fail grpc_server_start; done_tests; exit; }
P=$(free_port); K=$(free_port); A=$(free_port); Y=$(free_port); T=$(free_port)
mk_cert "$TT/crt"
f="$TT/p.ini"
{ printf '[faultline]\nadmin = 127.0.0.1:%s\nredis = %s\nrun = grpc-1\ninstance = i1\n' "$A" "$REDIS_URL"
  px g "$P" "127.0.0.1:$GS" mode=grpc; px ka "$K" "127.0.0.1:$GS" mode=grpc
  px gt "$T" "127.0.0.1:$GS" mode=grpc tls=terminate "tls_cert=$TT/crt/cert.pem" "tls_key=$TT/crt/key.pem"; } >"$f"
if py_grpc; then
    start_grpc_py_server PYS || fail py_server_start
    px gpy "$Y" "127.0.0.1:$PYS" mode=grpc >>"$f"
fi
h2fault "$f" unavail g grpc_error status=unavailable "message=try later" match_path=/test.Echo/Chain
h2fault "$f" exhausted g grpc_error status=resource_exhausted "match_header=x-tenant: big"
h2fault "$f" dlx g grpc_error status=deadline_exceeded "message=too slow" "match_header=x-case: dlx"
h2fault "$f" slowmsg g latency delay=300ms where=response match_path=/test.Echo/ServerStream "match_header=x-case: lat"
h2fault "$f" slowreq g latency delay=300ms where=request match_path=/test.Echo/Bidi
h2fault "$f" svc g grpc_error status=unimplemented match_path=/test.Other/*
h2fault "$f" cut g grpc_cut after_messages=2 match_path=/test.Echo/ServerStream "match_header=x-case: cut"
h2fault "$f" stuck g hang "match_header=x-case: hang"
h2fault "$f" noping ka h2_ping_drop
h2fault "$f" tlsunavail gt grpc_error status=unavailable match_path=/test.Echo/Chain
start_fl "$f" || { fail start; done_tests; exit; }
G=127.0.0.1:$P

# plain calls, node client
out=$(gcall "$G" Unary --n 5 --deadline-ms 2000)
check node_unary_ok bash -c "grep -q 'done ok=5 err=0' <<<'$out'"
out=$(gcall "$G" ServerStream --stream --msg 5 --deadline-ms 2000)
check node_stream_5 bash -c "grep -q 'call 0 code=0 .*msgs=5' <<<'$out'"
# grpc_error: trailers-only with the status and message
out=$(gcall "$G" Chain --deadline-ms 2000)
check error_unavailable bash -c "grep -q 'code=14 .*detail=\"try later\"' <<<'$out'"
out=$(gcall "$G" Unary --meta x-tenant=big --deadline-ms 2000)
check error_by_header bash -c "grep -q 'code=8 ' <<<'$out'"
out=$(gcall "$G" Unary --meta x-case=dlx --deadline-ms 5000)
check error_deadline_exceeded bash -c "grep -q 'code=4 .*detail=\"too slow\"' <<<'$out'"
# trailers-only on the wire (nghttp posting one gRPC message): one HEADERS frame with END_STREAM,
# :status 200, grpc-status and grpc-message, and no DATA
printf '\0\0\0\0\4ping' >"$TT/msg.bin"
out=$(nghttp -nv -H 'content-type: application/grpc' -H 'te: trailers' -d "$TT/msg.bin" "http://$G/test.Echo/Chain" 2>&1)
check error_trailers_only bash -c "[ \$(grep -c 'recv HEADERS frame' <<<'$out') = 1 ] && grep -A1 'recv HEADERS frame' <<<'$out' | grep -q 'END_STREAM' && ! grep -q 'recv DATA frame' <<<'$out'"
check error_trailers_fields bash -c "grep -q ':status: 200' <<<'$out' && grep -q 'grpc-status: 14' <<<'$out' && grep -q 'grpc-message: try later' <<<'$out' && grep -q 'content-type: application/grpc' <<<'$out'"
# latency per message: 4 messages, each 300 ms after the one before
out=$(gcall "$G" ServerStream --stream --msg 4 --meta x-case=lat --deadline-ms 5000)
echo "# $(grep '^msg' <<<"$out" | tr '\n' ' ')"
last=$(grep '^msg 0 m3 ' <<<"$out" | sed 's/.*ms=//')
check latency_each_message within "${last:-0}" 1150 2500
# latency where = request on a bidirectional call: 4 messages written at once reach the upstream
# 300 ms apart (the echo shows when each arrived)
out=$(gcall "$G" Bidi --bidi 4 --deadline-ms 5000)
echo "# bidi: $(grep '^msg' <<<"$out" | tr '\n' ' ')"
first=$(grep '^msg 0 m0 ' <<<"$out" | sed 's/.*ms=//'); last=$(grep '^msg 0 m3 ' <<<"$out" | sed 's/.*ms=//')
check latency_request_first_message within "${first:-0}" 280 1000
check latency_request_each_message within "${last:-0}" 1150 2500
check latency_request_call_ok bash -c "grep -q 'call 0 code=0 .*msgs=4' <<<'$out'"
# matching a whole service (match_path = /test.Other/*): a method of it, by nghttp
out=$(nghttp -nv -H 'content-type: application/grpc' -H 'te: trailers' -d "$TT/msg.bin" "http://$G/test.Other/Any" 2>&1)
check match_service_glob bash -c "grep -q 'grpc-status: 12' <<<'$out'"
# grpc_cut: two whole messages, then half of the third and a reset
out=$(gcall "$G" ServerStream --stream --msg 5 --meta x-case=cut --deadline-ms 3000)
echo "# cut: $(tr '\n' ' ' <<<"$out")"
check cut_two_messages [ "$(grep -c '^msg 0 ' <<<"$out")" = 2 ]
check cut_fails_call bash -c "grep -qE 'call 0 code=(13|14) ' <<<'$out'"
# hang after 2 messages, released: the stream stalls after its second message until the fault
# is removed (1 s after the client saw that message), then completes
curl -s -o /dev/null -XPOST "http://127.0.0.1:$A/faults" \
    -d '{"name":"hold2","type":"hang","proxy":"g","after_messages":"2","on_end":"release","match_path":"/test.Echo/ServerStream"}'
gcall "$G" ServerStream --stream --msg 4 --deadline-ms 15000 >"$TT/hold.out" &
HPID=$!
wait_for 20 grep -q '^msg 0 m1 ' "$TT/hold.out" || fail hold_second_message
sleep 1
curl -s -o /dev/null -XDELETE "http://127.0.0.1:$A/faults/hold2"
wait "$HPID"
out=$(cat "$TT/hold.out")
echo "# hold: $(grep '^msg' <<<"$out" | tr '\n' ' ')"
t0=$(grep '^msg 0 m0 ' <<<"$out" | sed 's/.*ms=//'); t1=$(grep '^msg 0 m1 ' <<<"$out" | sed 's/.*ms=//')
t2=$(grep '^msg 0 m2 ' <<<"$out" | sed 's/.*ms=//')
check hang_after_2_quick within "$(( ${t1:-9999} - ${t0:-0} ))" 0 500
check hang_after_2_released within "$(( ${t2:-0} - ${t1:-0} ))" 900 5000
check hang_stream_completes bash -c "grep -q 'call 0 code=0 .*msgs=4' <<<'$out'"
# a deadline shorter than a slow answer: DEADLINE_EXCEEDED (the server gives up too); a call
# the proxy holds: the client cancels the stream (RST_STREAM CANCEL) at its deadline
out=$(gcall "$G" Unary --meta sleep-ms=3000 --deadline-ms 400)
check deadline_exceeded has 'code=4 ' "$out"
out=$(gcall "$G" Unary --meta x-case=hang --deadline-ms 400)
check deadline_held_call has 'code=4 ' "$out"

# over TLS (ALPN h2, the client checks the proxy's certificate), the faults as in cleartext
out=$(gcall "127.0.0.1:$T" Unary --n 3 --tls "$TT/crt/cert.pem" --deadline-ms 3000)
check tls_unary_ok bash -c "grep -q 'done ok=3 err=0' <<<'$out'"
out=$(gcall "127.0.0.1:$T" ServerStream --stream --msg 3 --tls "$TT/crt/cert.pem" --deadline-ms 3000)
check tls_stream bash -c "grep -q 'call 0 code=0 .*msgs=3' <<<'$out'"
out=$(gcall "127.0.0.1:$T" Chain --tls "$TT/crt/cert.pem" --deadline-ms 3000)
check tls_grpc_error has 'code=14 ' "$out"

# keepalive through h2_ping_drop: the client's PING goes unanswered, it opens a new connection
out=$(gcall "127.0.0.1:$K" Unary --n 12 --every 300 --keepalive 500 --deadline-ms 2000)
echo "# keepalive client: $(tail -n1 <<<"$out")"
st=$(curl -s "http://127.0.0.1:$A/stats")
check ping_dropped_counted [ "$(jq '.proxies.ka.grpc.pings_dropped' <<<"$st")" -ge 1 ]
check keepalive_reconnects [ "$(jq '.proxies.ka.accepted' <<<"$st")" -ge 2 ]

# python3-grpcio: client through the proxy to the node server, and to its own server
if py_grpc; then
    out=$(pycall "$G" Unary --n 3 --timeout-ms 2000)
    check py_unary_ok bash -c "grep -q 'done ok=3 err=0' <<<'$out'"
    out=$(pycall "$G" Chain --timeout-ms 2000)
    check py_sees_unavailable has 'code=14 .*try later' "$out"
    out=$(pycall "$G" ServerStream --stream --msg 3 --timeout-ms 2000)
    check py_stream bash -c "grep -q 'call 0 code=0 .*msgs=3' <<<'$out'"
    out=$(gcall "127.0.0.1:$Y" Unary --n 3 --deadline-ms 2000)
    check node_to_py_server bash -c "grep -q 'done ok=3 err=0' <<<'$out'"
    out=$(pycall "127.0.0.1:$Y" ServerStream --stream --msg 3 --timeout-ms 2000)
    check py_to_py_server bash -c "grep -q 'call 0 code=0 .*msgs=3' <<<'$out'"
else
    echo "# skip: python3-grpcio not installed (apt-get install python3-grpcio)"
fi

# the record
R=fl:run:grpc-1
n_calls=17; py_grpc && n_calls=22
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw xrange $R:events:g - + | grep -c '^request$')\" -ge $n_calls ]"
events "$R:events:g" | grep 'kind=request' >"$TT/ev"
# grpc_timeout_ms is what the client had left when it sent (less than its 2 s when it was slow
# to send, on a busy machine)
e=$(grep 'path=/test.Echo/Unary' "$TT/ev" | head -n1)
echo "# $e"
check rec_unary eval '[ "$(kv "$e" grpc_status)" = 0 ] && within "$(kv "$e" grpc_timeout_ms)" 1000 2000 && [ "$(kv "$e" msgs_req)" = 1 ] && [ "$(kv "$e" msgs_resp)" = 1 ]'
e=$(grep 'path=/test.Echo/Chain' "$TT/ev" | head -n1)
check rec_grpc_error eval '[ "$(kv "$e" grpc_status)" = 14 ] && [ "$(kv "$e" fault)" = unavail ] && [ "$(kv "$e" msgs_resp)" = 0 ]'
e=$(grep 'fault=cut' "$TT/ev" | head -n1)
check rec_cut eval '[ "$(kv "$e" reset_by)" = fault ] && [ "$(kv "$e" end)" = reset ] && [ "$(kv "$e" msgs_resp)" = 3 ]'
check rec_cut_no_status [ -z "$(kv "$e" grpc_status)" ]
e=$(grep 'fault=stuck' "$TT/ev" | head -n1)
echo "# $e"
check rec_deadline_cancel eval '[ "$(kv "$e" reset_by)" = client ] && [ "$(kv "$e" rst_code)" = CANCEL ] && within "$(kv "$e" grpc_timeout_ms)" 50 400 && within "$(kv "$e" abandoned_ms)" 50 1000'
# the upstream answered OK at once, but the fault held that answer: the call never got a status
check rec_cancel_no_status [ -z "$(kv "$e" grpc_status)" ]
check rec_stream_msgs [ "$(grep 'path=/test.Echo/ServerStream' "$TT/ev" | grep -c 'msgs_resp=5')" -ge 1 ]
wait_for 10 bash -c "[ -n \"\$(redis-cli -s $REDIS_SOCK hget $R:proto:g:i1 grpc_calls)\" ]"
check totals_grpc_calls ge "$(rcli hget $R:proto:g:i1 grpc_calls)" 10
check totals_mode [ "$(rcli hget $R:proto:g:i1 mode)" = grpc ]
done_tests
