#!/usr/bin/env bash
# Per-request HTTP faults: http_error, latency (request/response), hang (forward yes/no),
# slow_body, truncate, reset; matching on method, path, host and header; probability; faults on
# some requests and not others on one keep-alive connection.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP"
cat >>"$TT/p.ini" <<INI
[fault err]
proxy = web
type = http_error
status = 429
body = slow down
header = Retry-After: 5
header = X-Injected: yes
match_path = /err/*
[fault err-default]
proxy = web
type = http_error
match_method = DELETE
[fault err-host]
proxy = web
type = http_error
status = 418
match_host = teapot.*
[fault err-hdr]
proxy = web
type = http_error
status = 451
match_header = X-Tenant: blue*
[fault never]
proxy = web
type = http_error
status = 500
probability = 0
match_path = /never
[fault lat-req]
proxy = web
type = latency
delay = 400ms
where = request
match_path = /latreq
[fault lat-resp]
proxy = web
type = latency
delay = 400ms
match_path = /latresp
[fault hang-fwd]
proxy = web
type = hang
match_path = /hangfwd
[fault hang-hold]
proxy = web
type = hang
forward = no
match_path = /hanghold
[fault slow]
proxy = web
type = slow_body
rate = 20KiB
match_path = /bytes/40960
[fault cut]
proxy = web
type = truncate
after_bytes = 1000
match_path = /bytes/50000
[fault cut-chunked]
proxy = web
type = truncate
after_bytes = 3000
match_path = /chunked/50000
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
P=http://127.0.0.1:$LP

# http_error: status, body, repeatable header, upstream untouched
out=$(curl -s -m 5 -D "$TT/h" $P/err/x)
check error_body [ "$out" = "slow down" ]
check error_status grep -q '^HTTP/1.1 429' "$TT/h"
check error_header_1 grep -qi '^Retry-After: 5' "$TT/h"
check error_header_2 grep -qi '^X-Injected: yes' "$TT/h"
check error_default_503 [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X DELETE $P/anything)" = 503 ]
check match_method_other_passes [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' $P/anything)" = 200 ]
check match_host [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: teapot.internal:8080' $P/)" = 418 ]
check match_host_other [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: api.internal' $P/)" = 200 ]
check match_header [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Tenant: blue-7' $P/)" = 451 ]
check match_header_other [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'X-Tenant: green' $P/)" = 200 ]
check probability_zero [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' $P/never)" = 200 ]
# keep-alive: faults on some requests and not others; the upstream never saw the errored ones
out=$(curl -s -m 5 -D - -o /dev/null $P/a -o /dev/null $P/err/1 -o /dev/null $P/b -o /dev/null $P/err/2 -o /dev/null $P/c | tr -d '\r' | grep -E '^HTTP|^X-Req' | tr '\n' ' ')
check keepalive_mixed [ "$out" = "HTTP/1.1 200 OK X-Req: 1 HTTP/1.1 429 Too Many Requests HTTP/1.1 200 OK X-Req: 2 HTTP/1.1 429 Too Many Requests HTTP/1.1 200 OK X-Req: 3 " ]
# the same pipelined: answers in order even when the proxy answers some itself
out=$("$TBIN/httpc" -p -t 5000 127.0.0.1:$LP "GET /sleep/300" "GET /err/x" "GET /bytes/10" "DELETE /x" "GET /")
check pipelined_mixed_order [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "200 429 200 503 200 " ]
# an errored POST: its body is read and dropped, the connection stays usable
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "POST /err/p 200000" "POST /x 1000")
check error_post_then_post [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\) bytes=\([0-9]*\).*/\1:\2/p' | tr '\n' ' ')" = "429:9 200:32 " ]

# latency before the request / before the response head
t=$(ms_of curl -s -m 5 $P/latreq)
check latency_request within "$t" 380 1500
t=$(ms_of curl -s -m 5 $P/latresp)
check latency_response within "$t" 380 1500
t=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "GET /other" | sed -n 's/^resp .*ms=\([0-9.]*\).*/\1/p')
check latency_not_matching within "$t" 0 379   # under the 400 ms delay: not delayed
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "GET /a" "GET /latresp" "GET /b")
ms=$(echo "$out" | sed -n 's/^resp .*ms=\([0-9.]*\).*/\1/p' | tr '\n' ' ')
set -- $ms
check latency_only_on_its_request bash -c "awk 'BEGIN{exit !($1 < 200 && $2 >= 380 && $3 < 200)}'"

# a delayed request with a body: head and body go upstream after the delay, intact
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "POST /latreq 100000" "POST /other 100000")
f1=$(echo "$out" | sed -n '1s/.*fnv=\([0-9a-f]*\).*/\1/p'); f2=$(echo "$out" | sed -n '2s/.*fnv=\([0-9a-f]*\).*/\1/p')
m1=$(echo "$out" | sed -n '1s/.*ms=\([0-9.]*\).*/\1/p')
check latency_request_body_intact eval '[ -n "$f1" ] && [ "$f1" = "$f2" ]'
check latency_request_body_delay within "$m1" 380 2000

# hang: the client waits until its own timeout (curl -m 1: exit 28)
curl -s -m 1 $P/hangfwd >/dev/null; rc=$?
check hang_forward_times_out [ "$rc" = 28 ]
curl -s -m 1 $P/hanghold >/dev/null; rc=$?
check hang_hold_times_out [ "$rc" = 28 ]
# a request after a hung one on another connection is fine
check after_hang_ok [ "$(curl -s -m 5 $P/)" = hello ]

# slow_body: 40 KiB at 20 KiB/s ~ 2 s, bytes intact
a=$(curl -s -m 10 $P/bytes/40960 | md5sum | cut -d' ' -f1)
b=$(curl -s -m 10 http://127.0.0.1:$UP/bytes/40960 | md5sum | cut -d' ' -f1)
check slow_body_intact [ "$a" = "$b" ]
t=$(ms_of curl -s -m 10 $P/bytes/40960)
check slow_body_rate within "$t" 1500 3500
t0=$(date +%s%N); curl -s -m 10 -o /dev/null -w '%{time_starttransfer}\n' $P/bytes/40960 >"$TT/ttfb"
check slow_body_head_at_once within "$(cat "$TT/ttfb")" 0 0.5

# truncate: head + after_bytes, then close (curl: 18 = partial file)
n=$(curl -s -m 5 $P/bytes/50000 | wc -c); curl -s -m 5 -o /dev/null $P/bytes/50000; rc=$?
check truncate_bytes [ "$n" = 1000 ]
check truncate_client_notices [ "$rc" = 18 ]
curl -s -m 5 -o /dev/null $P/chunked/50000; rc=$?
check truncate_chunked_noticed [ "$rc" = 18 ]

# profile checks of the http keys
bad_profile() {  # bad_profile NAME MODE FAULT-LINES... : faultline check must refuse it
    local n=$1 mode=$2; shift 2
    { printf '[faultline]\nadmin = off\n[proxy x]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = %s\n[fault f]\nproxy = x\n' "$mode"
      printf '%s\n' "$@"; } >"$TT/bad.ini"
    "$FL" check "$TT/bad.ini" >"$TT/bad.out" 2>&1
    check "$n" [ $? = 2 ]
}
bad_profile check_http_error_on_tcp tcp 'type = http_error'
bad_profile check_truncate_on_tcp tcp 'type = truncate'
bad_profile check_slow_body_needs_rate http 'type = slow_body'
bad_profile check_status_range http 'type = http_error' 'status = 700'
bad_profile check_header_form http 'type = http_error' 'header = NoColon'
bad_profile check_where http 'type = latency' 'delay = 1s' 'where = middle'
bad_profile check_forward_bool http 'type = hang' 'forward = maybe'
check check_message_names_key grep -q 'forward' "$TT/bad.out"
done_tests
