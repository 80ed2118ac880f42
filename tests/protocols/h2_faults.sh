#!/usr/bin/env bash
# Faults per stream on mode = http2, with real clients (curl --http2-prior-knowledge, nghttp,
# h2load, raw PINGs): every http fault (http_error, latency both ways, hang with each on_end,
# truncate, slow_body, reset), matched by path/method/header, with exact per-request
# probability, and the HTTP/2 ones (h2_rst_stream codes, h2_goaway graceful and immediate,
# h2_max_streams, h2_flow_stall both ways, h2_ping_drop). A fault on one stream leaves the
# other streams of the same connection alone.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

start_h2up UP || { fail h2up_start; done_tests; exit; }
P=$(free_port); Q=$(free_port); A=$(free_port)
f="$TT/p.ini"
{ printf '[faultline]\nadmin = 127.0.0.1:%s\n' "$A"; px web "$P" "127.0.0.1:$UP" mode=http2; px other "$Q" "127.0.0.1:$UP" mode=http2; } >"$f"
h2fault "$f" err web http_error status=503 "header=Retry-After: 7" match_path=/err*
h2fault "$f" errm web http_error status=405 match_method=POST match_path=/m*
h2fault "$f" errh web http_error status=429 "match_header=x-tenant: noisy*"
h2fault "$f" prob web http_error status=500 probability=0.3 match_path=/prob*
h2fault "$f" latq web latency delay=400ms match_path=/latq*
h2fault "$f" latr web latency delay=400ms where=response match_path=/latr*
h2fault "$f" trunc web truncate after_bytes=1000 match_path=/trunc*
h2fault "$f" slow web slow_body rate=50KiB match_path=/slowb*
h2fault "$f" rst web reset match_path=/tcpreset*
h2fault "$f" refused web h2_rst_stream code=refused_stream match_path=/refused*
h2fault "$f" cancelr web h2_rst_stream code=cancel where=response match_path=/cancelr*
h2fault "$f" rsti web h2_rst_stream code=internal_error match_path=/rsti*
h2fault "$f" gag web h2_goaway mode=graceful match_path=/goaway*
h2fault "$f" gai web h2_goaway mode=immediate code=internal_error match_path=/gonow*
h2fault "$f" stalls web h2_flow_stall where=response match_path=/stalls*
h2fault "$f" stallq web h2_flow_stall where=request match_path=/stallq*
h2fault "$f" maxs other h2_max_streams max_streams=2
h2fault "$f" ping other h2_ping_drop
start_fl "$f" || { fail start; done_tests; exit; }
B=http://127.0.0.1:$P
O=http://127.0.0.1:$Q

# http_error, matched by path, method, header
out=$(curl -sS --http2-prior-knowledge -i "$B/err" 2>&1)
check error_status bash -c "grep -q '^HTTP/2 503' <<<'$out' && grep -qi '^retry-after: 7' <<<'$out'"
check error_method [ "$(c2 "$B/m1" -d x | cut -d' ' -f1)" = 405 ]
check error_method_other [ "$(c2 "$B/m1" | cut -d' ' -f1)" = 200 ]
check error_header [ "$(c2 "$B/h" -H 'x-tenant: noisy-1' | cut -d' ' -f1)" = 429 ]
check error_header_other [ "$(c2 "$B/h" -H 'x-tenant: calm' | cut -d' ' -f1)" = 200 ]

# probability: one roll per stream
out=$(h2load -n 1000 -c 2 -m 10 "$B/prob" 2>&1)
n5=$(sed -n 's/.*status codes: [0-9]* 2xx, [0-9]* 3xx, [0-9]* 4xx, \([0-9]*\) 5xx.*/\1/p' <<<"$out")
echo "# probability 0.3 over 1000 streams: $n5 answered 500"
check probability_per_stream within "${n5:-0}" 230 370

# latency both ways, and the other streams of the connection are not delayed
t=$(c2 "$B/latq" | cut -d' ' -f2)
check latency_request within "$t" 0.39 1.2
t=$(c2 "$B/latr" | cut -d' ' -f2)
check latency_response within "$t" 0.39 1.2
out=$(nghttp -n -s "$B/latq1" "$B/fast1" "$B/fast2" 2>&1)
fast=$(awk '$NF ~ /^\/fast/ {v=$2; sub(/^\+/, "", v); if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else {sub(/s$/, "", v); v*=1000}; if (v > m) m = v} END {print m+0}' <<<"$out")
check latency_one_stream_only within "$fast" 0 379   # under the 400 ms delay: not delayed

# hang: the response held until the fault ends (release), the other streams flow meanwhile
addf() { curl -s -o /dev/null -w '%{http_code}' -XPOST "http://127.0.0.1:$A/faults" -d "$1"; }
check hang_added [ "$(addf '{"name":"hangr","type":"hang","proxy":"web","on_end":"release","duration":"1500ms","match_path":"/hangr*"}')" = 201 ]
out=$(nghttp -n -s "$B/hangr" "$B/free" 2>&1)
hang_end=$(awk '$NF == "/hangr" {v=$2; sub(/^\+/, "", v); sub(/ms$/, "", v); if (v ~ /s$/) {sub(/s$/, "", v); v*=1000}; print v}' <<<"$out")
free_end=$(awk '$NF == "/free" {v=$2; sub(/^\+/, "", v); if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else sub(/ms$/, "", v); print v}' <<<"$out")
echo "# hang released at ${hang_end} ms, the free stream at ${free_end} ms"
check hang_released_at_end within "${hang_end:-0}" 1000 2500
check hang_other_stream_free within "${free_end:-9999}" 0 500
check hangx_added [ "$(addf '{"name":"hangx","type":"hang","proxy":"web","forward":"no","on_end":"reset","duration":"1s","match_path":"/hangx*"}')" = 201 ]
out=$(curl -sS --http2-prior-knowledge -m 5 -o /dev/null "$B/hangx" 2>&1)
check hang_reset_at_end bash -c "grep -q 'INTERNAL_ERROR' <<<'$out'"

# truncate: after_bytes of the body, then the stream is reset
out=$(nghttp -nv "$B/trunc?n=50000" 2>&1)
check truncate_reset bash -c "grep -q 'recv RST_STREAM' <<<'$out' && grep -q 'error_code=INTERNAL_ERROR' <<<'$out'"
check truncate_bytes [ "$(sed -n 's/.*recv DATA frame <length=\([0-9]*\),.*/\1/p' <<<"$out" | awk '{s+=$1} END {print s+0}')" = 1000 ]
# slow_body: 100 KB at 50 KiB/s
t=$(c2 "$B/slowb?n=100000" | cut -d' ' -f2)
check slow_body_rate within "$t" 1.6 3.5
# reset: the connection is reset
check reset_connection [ "$(c2 "$B/tcpreset" | cut -d' ' -f1)" = 000 ]

# h2_rst_stream: REFUSED_STREAM before the upstream, CANCEL at the response head
out=$(nghttp -nv "$B/refused" 2>&1)
check rst_refused bash -c "grep -q 'recv RST_STREAM' <<<'$out' && grep -q 'error_code=REFUSED_STREAM' <<<'$out'"
out=$(curl -sS --http2-prior-knowledge -m 5 "$B/cancelr" 2>&1)
check rst_cancel_at_response bash -c "grep -q 'CANCEL' <<<'$out'"
cnt=$(curl -s --http2-prior-knowledge "$B/count" | jq .requests)
out=$(nghttp -n "$B/refused" 2>&1)
cnt2=$(curl -s --http2-prior-knowledge "$B/count" | jq .requests)
check rst_refused_never_upstream [ "$cnt2" = $((cnt + 1)) ]
out=$(nghttp -nv "$B/rsti" 2>&1)
check rst_internal_error bash -c "grep -q 'recv RST_STREAM' <<<'$out' && grep -q 'error_code=INTERNAL_ERROR' <<<'$out' && ! grep -q ':status:' <<<'$out'"

# h2_goaway: graceful serves the stream; immediate refuses it and closes
out=$(nghttp -nv "$B/goaway" 2>&1)
check goaway_graceful bash -c "grep -q 'recv GOAWAY' <<<'$out' && grep -q 'last_stream_id=13' <<<'$out' && grep -q ':status: 200' <<<'$out'"
out=$(nghttp -nv "$B/gonow" 2>&1)
check goaway_immediate bash -c "grep -q 'recv GOAWAY' <<<'$out' && grep -q 'error_code=INTERNAL_ERROR' <<<'$out' && ! grep -q ':status: 200' <<<'$out'"
# immediate: last-stream-id is the last stream forwarded before the matching one (none here)
check goaway_immediate_last_stream bash -c "grep -A1 'recv GOAWAY' <<<'$out' | grep -q 'last_stream_id=0'"

# h2_flow_stall: the response stops after the proxy's window; the request likewise
out=$(curl -sS --http2-prior-knowledge -m 3 -o /dev/null -w '%{size_download}' "$B/stalls?n=3000000" 2>/dev/null)
echo "# stalled response: $out bytes in 3 s"
check stall_response within "${out:-0}" 1 400000
head -c 3000000 /dev/zero >"$TT/z.bin"
out=$(curl -sS --http2-prior-knowledge -m 3 -o /dev/null -w '%{size_upload}' --data-binary @"$TT/z.bin" "$B/stallq" 2>/dev/null)
echo "# stalled request: $out bytes sent in 3 s"
check stall_request within "${out:-0}" 1 400000
check stall_others_flow [ "$(c2 "$B/ok" | cut -d' ' -f1)" = 200 ]

# h2_max_streams (proxy other): advertised in the first SETTINGS; h2load opens 10 streams before
# it reads them (those past 2 are refused, REFUSED_STREAM: safe to retry), then queues the rest
out=$(nghttp -nv "$O/x" 2>&1)
check max_streams_advertised bash -c "grep -q 'SETTINGS_MAX_CONCURRENT_STREAMS(0x03):2' <<<'$out'"
out=$(h2load -n 200 -c 1 -m 10 "$O/slow?ms=20" 2>&1)
ok2=$(sed -n 's/.*status codes: \([0-9]*\) 2xx.*/\1/p' <<<"$out")
echo "# h2load with 10 streams on a 2-stream connection: ${ok2} of 200 answered"
check max_streams_client_queues within "${ok2:-0}" 190 200
# h2_ping_drop (proxy other) against web, which answers
check ping_answered [ "$(h2raw ping "$P" 3)" = "acks=3" ]
check ping_dropped [ "$(h2raw ping "$Q" 3)" = "acks=0" ]
# h2_max_streams on a live connection: added while a client is connected, the proxy sends it a
# new SETTINGS with the lower limit; removed, the proxy's own 100 again
h2raw settings "$P" 2.5 >"$TT/settings.out" &
SPID=$!
sleep 0.7
check max_streams_live_added [ "$(addf '{"name":"maxlive","type":"h2_max_streams","proxy":"web","max_streams":"3"}')" = 201 ]
sleep 0.7
curl -s -o /dev/null -XDELETE "http://127.0.0.1:$A/faults/maxlive"
wait "$SPID"
echo "# live connection's SETTINGS: $(cat "$TT/settings.out")"
check max_streams_live_settings grep -q '^max_streams=100,3,100 ' "$TT/settings.out"

st=$(curl -s "http://127.0.0.1:$A/stats")
check stats_pings_dropped [ "$(jq '.proxies.other.http2.pings_dropped' <<<"$st")" -ge 3 ]
check stats_goaways [ "$(jq '.proxies.web.http2.goaways_sent' <<<"$st")" -ge 2 ]
check stats_stalled [ "$(jq '.proxies.web.http2.stalled_streams' <<<"$st")" -ge 2 ]
check fault_counted [ "$(jq '.proxies.web.faults.err.requests_affected' <<<"$st")" -ge 1 ]
done_tests
