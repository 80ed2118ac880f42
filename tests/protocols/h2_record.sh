#!/usr/bin/env bash
# The record of an http2 proxy: one kind=request event per stream with http mode's fields
# (method, path, host from :authority, status, request_id, fault, times, end) plus the stream's
# own (stream id, reset_by and rst_code when it was reset), a client's cancel recorded as its
# give-up (end=aborted, reset_by=client, rst_code=CANCEL), and the proxy's h2 totals.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../record/common.bash"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

start_redis || { fail redis_start; exit 1; }
start_h2up UP || { fail h2up_start; exit 1; }
P=$(free_port)
f="$TT/p.ini"
{ printf '[faultline]\nadmin = off\nredis = %s\nrun = h2-1\ninstance = i1\ndrain = 500ms\n' "$REDIS_URL"
  px web "$P" "127.0.0.1:$UP" mode=http2; } >"$f"
h2fault "$f" err web http_error status=429 match_path=/err
h2fault "$f" stuck web hang match_path=/stuck*
h2fault "$f" refuse web h2_rst_stream code=refused_stream match_path=/refuse
start_fl "$f" || { fail start; exit 1; }
R=fl:run:h2-1
B=http://127.0.0.1:$P

curl -s --http2-prior-knowledge -m 5 -H 'x-request-id: rid-7' "$B/hello?x=1" -o /dev/null
curl -s --http2-prior-knowledge -m 5 "$B/err" -o /dev/null
curl -s --http2-prior-knowledge -m 0.5 "$B/stuck" -o /dev/null
h2raw cancel "$P" /stuck2 600 >/dev/null
nghttp -n "$B/refuse" >/dev/null 2>&1
curl -s --http2-prior-knowledge -m 5 --data-binary @<(head -c 1000 /dev/zero) "$B/echo" -o /dev/null
curl -s --http2-prior-knowledge -m 5 -H 'x-upstream-status: x' "$B/status?code=503" -o /dev/null

wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw xrange $R:events:web - + | grep -c '^request$')\" -ge 7 ]"
events "$R:events:web" | grep 'kind=request' >"$TT/ev"
check seven_request_events [ "$(wc -l <"$TT/ev")" -ge 7 ]
e=$(grep 'path=/hello' "$TT/ev")
check ok_fields eval '[ "$(kv "$e" method)" = GET ] && [ "$(kv "$e" status)" = 200 ] && [ "$(kv "$e" end)" = done ]'
check ok_path_without_query [ "$(kv "$e" path)" = /hello ]
check ok_authority_as_host [ "$(kv "$e" host)" = "127.0.0.1:$P" ]
check ok_request_id [ "$(kv "$e" request_id)" = rid-7 ]
check ok_stream_id [ "$(kv "$e" stream)" = 1 ]
check ok_upstream_ms [ -n "$(kv "$e" upstream_ms)" ]
check ok_no_reset [ -z "$(kv "$e" reset_by)" ]
e=$(grep 'path=/err' "$TT/ev")
check err_status_fault eval '[ "$(kv "$e" status)" = 429 ] && [ "$(kv "$e" fault)" = err ]'
e=$(grep 'path=/stuck ' "$TT/ev")
check close_aborted [ "$(kv "$e" end)" = aborted ]
check close_abandoned_ms within "$(kv "$e" abandoned_ms)" 400 1500
e=$(grep 'path=/stuck2' "$TT/ev")
check cancel_aborted [ "$(kv "$e" end)" = aborted ]
check cancel_by_client eval '[ "$(kv "$e" reset_by)" = client ] && [ "$(kv "$e" rst_code)" = CANCEL ]'
check cancel_abandoned_ms within "$(kv "$e" abandoned_ms)" 500 1500
e=$(grep 'path=/refuse' "$TT/ev")
check refused_reset eval '[ "$(kv "$e" end)" = reset ] && [ "$(kv "$e" reset_by)" = fault ] && [ "$(kv "$e" rst_code)" = REFUSED_STREAM ]'
e=$(grep 'path=/echo' "$TT/ev")
check post_bytes eval '[ "$(kv "$e" bytes_req)" = 1000 ] && [ "$(kv "$e" method)" = POST ] && [ -n "$(kv "$e" body_hash)" ]'
e=$(grep 'path=/status' "$TT/ev")
check upstream_503 [ "$(kv "$e" status)" = 503 ]
# the totals hash is rewritten every record interval: wait for the write after the last stream
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK hget $R:proto:web:i1 streams)\" -ge 6 ] 2>/dev/null && [ \"\$(redis-cli -s $REDIS_SOCK hget $R:proto:web:i1 resets_client)\" -ge 1 ] 2>/dev/null"
check totals_streams ge "$(rcli hget $R:proto:web:i1 streams)" 6
check totals_mode [ "$(rcli hget $R:proto:web:i1 mode)" = http2 ]
check totals_resets_client ge "$(rcli hget $R:proto:web:i1 resets_client)" 1
done_tests
