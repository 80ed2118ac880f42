#!/usr/bin/env bash
# TCP faults on an http proxy: types without per-request behaviour (bandwidth, refuse, ...) stay
# connection-level stages after HTTP and compose with per-request faults; `reset` acts per
# request there; match_* keys on a TCP-only type are refused.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port); LR=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP"
cat >>"$TT/p.ini" <<INI
[fault bw]
proxy = web
type = bandwidth
rate = 200KiB
[fault rst]
proxy = web
type = reset
match_path = /boom
[fault err]
proxy = web
type = http_error
status = 503
match_path = /err
[proxy refusing]
listen = [::1]:$LR
upstream = 127.0.0.1:$UP
mode = http
[fault nope]
proxy = refusing
type = refuse
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
P=http://127.0.0.1:$LP

# bandwidth (a TCP stage) still shapes the bytes HTTP forwards: 400 KB at 200 KiB/s ~ 2 s
a=$(curl -s -m 10 $P/bytes/400000 | md5sum | cut -d' ' -f1)
b=$(curl -s -m 10 http://127.0.0.1:$UP/bytes/400000 | md5sum | cut -d' ' -f1)
check bandwidth_body_intact [ "$a" = "$b" ]
t=$(ms_of curl -s -m 10 $P/bytes/400000)
check bandwidth_on_http_proxy within "$t" 1500 4000
# per-request faults and the TCP stage together on one keep-alive connection
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "GET /" "GET /err" "GET /bytes/1000")
check composed_keepalive [ "$(echo "$out" | sed -n 's/^resp .*status=\([0-9]*\).*/\1/p' | tr '\n' ' ')" = "200 503 200 " ]
# reset per request: only the matching request's connection is reset
curl -s -m 5 -o /dev/null $P/boom; rc=$?
check reset_per_request [ "$rc" = 56 ]
out=$("$TBIN/httpc" -t 5000 127.0.0.1:$LP "GET /a" "GET /boom")
check reset_after_good_request [ "$(echo "$out" | tail -n1 | cut -d' ' -f1,2)" = "result=reset got=1" ]
check reset_other_paths [ "$(curl -s -m 5 $P/fine)" = hello ]
# refuse (connection level) on an http proxy
curl -s -m 5 -o /dev/null "http://[::1]:$LR/"; rc=$?
check refuse_on_http_proxy [ "$rc" = 7 ]
# match_* on a type without per-request behaviour is refused by the profile check
printf '[faultline]\nadmin = off\n[proxy x]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = http\n[fault f]\nproxy = x\ntype = bandwidth\nrate = 1KiB\nmatch_path = /x\n' >"$TT/bad.ini"
"$FL" check "$TT/bad.ini" >"$TT/bad.out" 2>&1; rc=$?
check match_on_tcp_type_refused [ "$rc" = 2 ]
check match_refusal_says_why grep -q 'per HTTP request' "$TT/bad.out"
done_tests
