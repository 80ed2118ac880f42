#!/usr/bin/env bash
# Per-request record of an http proxy: one kind=request event per request with method, path,
# host, status, request_id, fault, timings, abandonment and body bytes; http counters.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../record/common.bash"
. "$(dirname "$0")/http_lib.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = http-1
instance = h1
drain = 500ms
[proxy web]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
mode = http
[fault err]
proxy = web
type = http_error
status = 429
match_path = /err
[fault stuck]
proxy = web
type = hang
match_path = /stuck
[fault slow]
proxy = web
type = latency
delay = 300ms
match_path = /slow
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
R=fl:run:http-1
P=http://127.0.0.1:$LP

curl -s -m 5 -H 'X-Request-Id: rid-42' -H 'Host: api.internal' $P/hello?x=1 >/dev/null
curl -s -m 5 $P/err >/dev/null
curl -s -m 0.5 $P/stuck >/dev/null
curl -s -m 5 $P/slow >/dev/null
curl -s -m 5 -H 'Expect:' --data-binary @<(head -c 1000 /dev/zero) $P/post >/dev/null
curl -s -m 5 $P/bytes/5000 >/dev/null
"$TBIN/httpc" -t 2000 127.0.0.1:$LP 'RAW:NOT HTTP\r\n\r\n' >/dev/null

wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw xrange $R:events:web - + | grep -c '^request$')\" -ge 7 ]"
events "$R:events:web" | grep 'kind=request' >"$TT/ev"
check seven_request_events [ "$(wc -l <"$TT/ev")" -ge 7 ]
e=$(grep 'path=/hello' "$TT/ev")
check ok_fields eval '[ "$(kv "$e" method)" = GET ] && [ "$(kv "$e" status)" = 200 ]'
check ok_path_without_query [ "$(kv "$e" path)" = /hello ]
check ok_host [ "$(kv "$e" host)" = api.internal ]
check ok_request_id [ "$(kv "$e" request_id)" = rid-42 ]
check ok_bytes_resp [ "$(kv "$e" bytes_resp)" = 6 ]
check ok_upstream_ms [ -n "$(kv "$e" upstream_ms)" ]
e=$(grep 'path=/err' "$TT/ev")
check err_status_fault eval '[ "$(kv "$e" status)" = 429 ] && [ "$(kv "$e" fault)" = err ]'
check err_not_forwarded [ -z "$(kv "$e" upstream_ms)" ]
e=$(grep 'path=/stuck' "$TT/ev")
check stuck_fault [ "$(kv "$e" fault)" = stuck ]
check stuck_no_status [ "$(kv "$e" status)" = 0 ]
check stuck_abandoned_500ms within "$(kv "$e" abandoned_ms)" 100 900   # curl -m 0.5 counts its own connect and send too (slow under load)
e=$(grep 'path=/slow' "$TT/ev")
check slow_total_ms within "$(kv "$e" total_ms)" 290 1500
e=$(grep 'path=/post' "$TT/ev")
check post_bytes_req [ "$(kv "$e" bytes_req)" = 1000 ]
e=$(grep 'path=/bytes/5000' "$TT/ev")
check bytes_resp_5000 [ "$(kv "$e" bytes_resp)" = 5000 ]
check bad_request_event grep -q 'status=400' "$TT/ev"

C=$R:counters:web:h1
wait_for 5 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw hget $C requests)\" -ge 7 ]"
check counter_requests [ "$(hget $C requests)" -ge 7 ]
check counter_status_4xx [ "$(hget $C status_4xx)" -ge 2 ]
check counter_bad_requests [ "$(hget $C bad_requests)" = 1 ]
check fault_requests_affected [ "$(hget $R:fault:web:err:h1 requests_affected)" = 1 ]

# a request still held when faultline stops: held_at_end
curl -s -m 20 -H 'X-Request-Id: held-1' $P/stuck >/dev/null 2>&1 &
HELD=$!
_PIDS+=($HELD)
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw hget $R:fault:web:stuck:h1 requests_affected)\" -ge 2 ]"
stop_pid "$FL_PID"
e=$(events "$R:events:web" | grep 'request_id=held-1')
check held_at_end_recorded [ "$(kv "$e" held_at_end)" = 1 ]
check held_at_end_fault [ "$(kv "$e" fault)" = stuck ]
done_tests
