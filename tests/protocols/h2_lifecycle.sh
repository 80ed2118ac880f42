#!/usr/bin/env bash
# issue 24's scoping and lifecycle faults on mode = http2 and grpc, with real clients: max_active
# per stream (curl --http2-prior-knowledge, nghttp: past the cap a stream passes, counted
# `capped`), close_after (requests: GOAWAY after N streams, curl and nghttp see it, grpcio
# reconnects; how = rst; age), corrupt (the DATA payload only: the client parses the frames and
# gets changed body bytes; a grpcio client sees a bad message), header_control
# (x-faultline-delay / -abort, x-faultline-abort-grpc as trailers-only; stripped before the
# upstream; only for header_control_clients).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

start_h2up UP || { fail h2up_start; done_tests; exit; }
GS=""
if py_grpc; then start_grpc_py_server GS || fail py_server_start; fi
P=$(free_port); A=$(free_port); CA=$(free_port); CR=$(free_port); AG=$(free_port); HC=$(free_port); HX=$(free_port)
G=$(free_port); GH=$(free_port)
f="$TT/p.ini"
{ printf '[faultline]\nadmin = 127.0.0.1:%s\n' "$A"; px web "$P" "127.0.0.1:$UP" mode=http2
  px ca "$CA" "127.0.0.1:$UP" mode=http2; px carst "$CR" "127.0.0.1:$UP" mode=http2; px age "$AG" "127.0.0.1:$UP" mode=http2
  px hc "$HC" "127.0.0.1:$UP" mode=http2 header_control=on header_control_max_delay=2s
  px hx "$HX" "127.0.0.1:$UP" mode=http2 header_control=on header_control_clients=127.0.0.2/32
  if [ -n "$GS" ]; then px g "$G" "127.0.0.1:$GS" mode=grpc; px gh "$GH" "127.0.0.1:$GS" mode=grpc header_control=on; fi; } >"$f"
h2fault "$f" capped web latency delay=800ms max_active=2 match_path=/cap*
h2fault "$f" garble web corrupt per_byte=5% match_path=/big*
h2fault "$f" two ca close_after requests=2
h2fault "$f" tworst carst close_after requests=2 close=rst
h2fault "$f" old age close_after age=300ms
if [ -n "$GS" ]; then
    h2fault "$f" gtwo g close_after requests=2
    h2fault "$f" gbad g corrupt per_byte=30% match_path=/test.Echo/Unary
fi
start_fl "$f" || { fail start; done_tests; exit; }
B=http://127.0.0.1:$P
stat() { curl -s "http://127.0.0.1:$A/stats" | jq -r "$1"; }

# max_active = 2: of five streams at once (one connection), two are delayed, three pass
out=$(nghttp -n -s "$B/cap1" "$B/cap2" "$B/cap3" "$B/cap4" "$B/cap5" 2>&1)
ms=$(awk '$NF ~ /^\/cap/ {v=$2; sub(/^\+/, "", v); if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else {sub(/s$/, "", v); v*=1000}; print int(v)}' <<<"$out" | sort -n | tr '\n' ' ')
echo "# max_active=2, five streams on one connection: response times (ms) $ms"
slow=$(tr ' ' '\n' <<<"$ms" | awk '$1 >= 750' | wc -l); fast=$(tr ' ' '\n' <<<"$ms" | awk '$1 != "" && $1 < 400' | wc -l)
check max_active_streams_two_delayed [ "$slow" = 2 ]
check max_active_streams_three_pass [ "$fast" = 3 ]
st=$(curl -s "http://127.0.0.1:$A/stats")
check max_active_capped_counted [ "$(jq '.proxies.web.faults.capped.capped' <<<"$st")" = 3 ]
check max_active_places_given_back [ "$(jq '.proxies.web.faults.capped.active' <<<"$st")" = 0 ]
# the places come back when the streams end: two more at once are both delayed (separate connections)
c2 "$B/cap6" >"$TT/c6" & w=$!; c2 "$B/cap7" >"$TT/c7"; wait $w
t6=$(cut -d' ' -f2 <"$TT/c6"); t7=$(cut -d' ' -f2 <"$TT/c7")
echo "# then two streams on two connections: $t6 s, $t7 s"
check max_active_places_reused bash -c "awk -v a=$t6 -v b=$t7 'BEGIN { exit !(a >= 0.75 && b >= 0.75) }'"

# ---- close_after on http2 ----
# requests = 2, close = fin: after the second response a GOAWAY (NO_ERROR, last-stream-id = the
# last stream taken): nghttp's three concurrent streams are all answered, then the connection ends.
# (curl 7.88 cannot reuse a prior-knowledge connection even without faultline, so nghttp it is.)
out=$(nghttp -nv -s "http://127.0.0.1:$CA/a" "http://127.0.0.1:$CA/b" "http://127.0.0.1:$CA/c" 2>&1)
echo "# nghttp: $(grep -A1 'recv GOAWAY' <<<"$out" | tr -s ' \n' ' ')"
check close_after_goaway_seen bash -c "grep -A1 'recv GOAWAY' <<<'$out' | grep -q 'error_code=NO_ERROR'"
check close_after_streams_before_served [ "$(grep -c ':status: 200' <<<"$out")" = 3 ]
check close_after_counted [ "$(stat '.proxies.ca.faults.two.closes')" -ge 1 ]
# one request per connection: h2load (one connection, one stream at a time) sees its connection
# end after two; a fresh nghttp after that works
out=$(nghttp -nv "http://127.0.0.1:$CA/one" 2>&1)
check close_after_below_requests_no_goaway bash -c "! grep -q 'recv GOAWAY' <<<'$out' && grep -q ':status: 200' <<<'$out'"
# close = rst: the connection is reset after the second response
out=$(nghttp -nv "http://127.0.0.1:$CR/a" "http://127.0.0.1:$CR/b" "http://127.0.0.1:$CR/c" 2>&1)
echo "# close_after close=rst, nghttp three streams: $(grep -c ':status: 200' <<<"$out") answered, resets $(stat '.proxies.carst.faults.tworst.resets')"
check close_after_rst_counted [ "$(stat '.proxies.carst.faults.tworst.resets')" -ge 1 ]
check close_after_rst_no_goaway bash -c "! grep -q 'recv GOAWAY' <<<'$out'"
check close_after_rst_two_answered [ "$(grep -c ':status: 200' <<<"$out")" -ge 2 ]
# age = 300ms: a response after the connection is 300 ms old ends it
out=$(nghttp -nv "http://127.0.0.1:$AG/slow?ms=400" 2>&1)
check close_after_age_goaway grep -q 'recv GOAWAY frame' <<<"$out"
out=$(nghttp -nv "http://127.0.0.1:$AG/quick" 2>&1)
check close_after_age_young_conn_kept bash -c "! grep -q 'recv GOAWAY frame' <<<'$out'"

# ---- corrupt on http2: DATA payload only; curl parses every frame and gets changed bytes ----
out=$(curl -sS --http2-prior-knowledge -m 10 -o "$TT/big" -w '%{http_code} %{size_download}' "$B/big?n=20000" 2>&1)
bad=$(tr -d 'x' <"$TT/big" | wc -c)
echo "# corrupt per_byte=5% on 20000 bytes: $out, $bad bytes changed"
check corrupt_h2_frames_intact [ "$out" = "200 20000" ]
check corrupt_h2_body_changed within "$bad" 600 1400
# the other paths are untouched
out=$(curl -sS --http2-prior-knowledge -m 10 "$B/plain?n=5000" | tr -d 'x' | wc -c)
check corrupt_h2_other_paths_clean [ "$out" = 0 ]
if /usr/bin/python3 -c 'import h2' 2>/dev/null; then
    n=$(/usr/bin/python3 - "$P" <<'PY'
import socket, sys
import h2.connection, h2.events
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
c = h2.connection.H2Connection()
c.initiate_connection()
c.send_headers(1, [(":method", "GET"), (":path", "/big?n=8000"), (":scheme", "http"), (":authority", "x")], end_stream=True)
s.sendall(c.data_to_send())
body, done = b"", False
while not done:
    d = s.recv(65536)
    if not d:
        break
    for e in c.receive_data(d):
        if isinstance(e, h2.events.DataReceived):
            body += e.data
            c.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
        if isinstance(e, h2.events.StreamEnded):
            done = True
    s.sendall(c.data_to_send())
print(len(body), sum(1 for b in body if b != ord("x")))
PY
)
    echo "# python h2: length, changed bytes: $n"
    check corrupt_h2_python_h2 bash -c "set -- $n; [ \$1 = 8000 ] && [ \$2 -gt 100 ]"
fi

# ---- header_control on http2 ----
H=http://127.0.0.1:$HC
t=$(c2 "$H/d" -H 'x-faultline-delay: 300ms')
check hdrctl_h2_delay bash -c "[ '$(cut -d' ' -f1 <<<"$t")' = 200 ] && awk -v t=$(cut -d' ' -f2 <<<"$t") 'BEGIN { exit !(t >= 0.29 && t < 1.5) }'"
check hdrctl_h2_abort [ "$(c2 "$H/a" -H 'x-faultline-abort: 503' | cut -d' ' -f1)" = 503 ]
t=$(c2 "$H/da" -H 'x-faultline-delay: 200' -H 'x-faultline-abort: 429')
check hdrctl_h2_delay_then_abort bash -c "[ '$(cut -d' ' -f1 <<<"$t")' = 429 ] && awk -v t=$(cut -d' ' -f2 <<<"$t") 'BEGIN { exit !(t >= 0.19) }'"
t=$(c2 "$H/cap" -H 'x-faultline-delay: 10s')
check hdrctl_h2_delay_capped within "$(cut -d' ' -f2 <<<"$t")" 1.9 4
check hdrctl_h2_bad_value_passes [ "$(c2 "$H/b" -H 'x-faultline-abort: 99' | cut -d' ' -f1)" = 200 ]
seen=$(curl -sS --http2-prior-knowledge -m 5 -H 'x-faultline-delay: 1' -H 'x-faultline-other: y' -H 'x-keep: 1' "$H/headers")
check hdrctl_h2_stripped bash -c "! grep -q x-faultline <<<'$seen' && grep -qx x-keep <<<'$seen'"
# a client outside header_control_clients: not faulted, the fields still stripped
check hdrctl_h2_other_client [ "$(c2 "http://127.0.0.1:$HX/a" -H 'x-faultline-abort: 503' | cut -d' ' -f1)" = 200 ]
seen=$(curl -sS --http2-prior-knowledge -m 5 -H 'x-faultline-abort: 503' "http://127.0.0.1:$HX/headers")
check hdrctl_h2_other_client_stripped bash -c "! grep -q x-faultline <<<'$seen'"
check hdrctl_h2_off_by_default [ "$(c2 "$B/a" -H 'x-faultline-abort: 503' | cut -d' ' -f1)" = 200 ]

# ---- grpc (python3-grpcio) ----
if [ -n "$GS" ]; then
    # close_after requests = 2: grpcio gets a GOAWAY after every second call and reconnects
    out=$(pycall "127.0.0.1:$G" Unary --n 7 --timeout-ms 3000)
    echo "# grpcio through close_after requests=2: $(tail -n1 <<<"$out"), accepted $(stat '.proxies.g.accepted')"
    check close_after_grpcio_all_ok grep -q 'done ok=7 err=0' <<<"$out"
    check close_after_grpcio_reconnected [ "$(stat '.proxies.g.accepted')" -ge 4 ]
    # corrupt: every message arrives (the prefixes are intact), with changed bytes in it
    msg=$(printf 'payload%.0s' $(seq 1 60))
    out=$(pycall "127.0.0.1:$G" Unary --n 3 --msg "$msg" --timeout-ms 3000)
    echo "# grpcio through corrupt: $(head -n1 <<<"$out" | cut -c1-100)"
    check corrupt_grpcio_messages_arrive grep -q 'done ok=3 err=0' <<<"$out"
    check corrupt_grpcio_bad_message [ "$(grep -cF "detail='$msg'" <<<"$out")" = 0 ]
    # header_control: x-faultline-abort-grpc answers trailers-only with that status
    out=$(pycall "127.0.0.1:$GH" Unary --meta x-faultline-abort-grpc=unavailable --timeout-ms 3000)
    check hdrctl_grpc_abort grep -q 'code=14 ' <<<"$out"
    out=$(pycall "127.0.0.1:$GH" Unary --meta x-faultline-abort-grpc=7 --meta x-faultline-delay=300 --timeout-ms 3000)
    ms=$(sed -n 's/.* code=7 ms=\([0-9]*\).*/\1/p' <<<"$out")
    check hdrctl_grpc_delay_then_abort within "${ms:-0}" 290 2000
    out=$(pycall "127.0.0.1:$GH" Unary --meta x-faultline-delay=300ms --timeout-ms 3000)
    check hdrctl_grpc_delay grep -q 'done ok=1 err=0' <<<"$out"
else
    echo "# skip: grpc cases need python3-grpcio"
fi
done_tests
