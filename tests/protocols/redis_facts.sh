#!/usr/bin/env bash
# The redis facts issue 10 lists -- commands per name, errors, in-flight commands, abandonment of
# held commands -- each seen in both places a user reads them: /stats and the record (R:proto
# totals and gauges, the connection events). redis_record.sh covers the per-connection events
# and the totals after the fact; this one reads the gauges while commands are in flight and
# held (live, also across a reload that retires the proxy object they run on), and the record's
# totals for errors and abandonment by kind.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/record/common.bash

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
P=$(free_port); P2=$(free_port); AP=$(free_port)
prof() {
    cat <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
redis = $REDIS_URL
run = rf
instance = i1
[proxy cache]
listen = 127.0.0.1:$1
upstream = unix:$REDIS_SOCK
mode = redis
[fault stuck]
proxy = cache
type = redis_hang
match_key = held:*
[fault ro]
proxy = cache
type = redis_error
error = READONLY
match_command = set
match_key = ro:*
EOT
}
prof "$P" >"$TT/p.ini"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
R="timeout 10 redis-cli -h 127.0.0.1 -p $P"
$R set a 1 >/dev/null; $R set b 2 >/dev/null; $R get a >/dev/null; $R get b >/dev/null; $R get c >/dev/null
$R set ro:1 x >/dev/null 2>&1                  # injected READONLY
$R set ro:2 x >/dev/null 2>&1
$R lpush a x >/dev/null 2>&1                   # WRONGTYPE from the server
$R hget a f >/dev/null 2>&1                    # WRONGTYPE again

# in flight now: two blocking commands the server holds, one command held by the fault
timeout 30 redis-cli -h 127.0.0.1 -p "$P" blpop q1 0 >"$TT/b1.out" 2>&1 &
B1=$!
timeout 30 redis-cli -h 127.0.0.1 -p "$P" blpop q2 0 >"$TT/b2.out" 2>&1 &
B2=$!
timeout 30 redis-cli -h 127.0.0.1 -p "$P" get held:1 >/dev/null 2>&1 &
H1=$!
st() { curl -s -m 5 "http://127.0.0.1:$AP/stats" | jq -r ".proxies.cache.redis.$1"; }
check stats_inflight_live wait_for 10 bash -c "[ \"\$(curl -s -m 2 http://127.0.0.1:$AP/stats | jq -r .proxies.cache.redis.inflight)\" = 2 ]"
check stats_held_live test "$(st held)" = 1
check stats_live_conns test "$(st live)" = 3
check stats_calls_get test "$(st by_command.GET.calls)" = 4
check stats_calls_set test "$(st by_command.SET.calls)" = 4
check stats_injected_set test "$(st by_command.SET.injected)" = 2
check stats_errors_server test "$(st errors_server)" = 2
check stats_errors_lpush test "$(st by_command.LPUSH.errors)" = 1
check stats_errors_hget test "$(st by_command.HGET.errors)" = 1
check stats_errors_injected test "$(st errors_injected)" = 2
check stats_blpop_calls test "$(st by_command.BLPOP.calls)" = 2
# the gauges are written with the totals, once a record interval (1 s): waited for, not a fixed
# 1.5 s that a loaded machine's late write outlasts
PR=fl:run:rf:proto:cache:i1
wait_for 10 eval '[ "$(hget $PR inflight)" = 2 ] && [ "$(hget $PR held)" = 1 ]'
check proto_inflight_gauge test "$(hget $PR inflight)" = 2
check proto_held_gauge test "$(hget $PR held)" = 1
check proto_peak_inflight eval '[ "$(hget $PR peak_inflight)" -ge 1 ]'

# a reload moves the proxy (new address): the commands stay in flight on the retired object
prof "$P2" >"$TT/p.ini"
kill -HUP "$FL_PID"
wait_port "$P2" 10 || fail reload_listen "the new listener did not come up"
sleep 1.5   # a record interval after the reload (the values must stay, not come: nothing to wait for)
check stats_inflight_after_reload test "$(st inflight)" = 2
check stats_held_after_reload test "$(st held)" = 1
check proto_inflight_after_reload test "$(hget $PR inflight)" = 2

# one blocking command answered (a push through the new address); one given up on (its client
# is killed: in flight, abandoned); the held GET's client gives up (held, abandoned)
timeout 10 redis-cli -h 127.0.0.1 -p "$P2" rpush q1 v >/dev/null
wait_for 10 bash -c "! kill -0 $B1 2>/dev/null"
check blocking_answered grep -q v "$TT/b1.out"
kill "$B2" "$H1" 2>/dev/null; wait "$B2" "$H1" 2>/dev/null
check stats_inflight_drained wait_for 10 bash -c "[ \"\$(curl -s -m 2 http://127.0.0.1:$AP/stats | jq -r .proxies.cache.redis.inflight)\" = 0 ]"
check stats_held_drained test "$(st held)" = 0
check stats_abandoned_inflight test "$(st abandoned_inflight)" = 1
check stats_abandoned_held test "$(st abandoned_held)" = 1
check stats_calls_rpush test "$(st by_command.RPUSH.calls)" = 1
wait_for 10 eval '[ "$(hget $PR inflight)" = 0 ] && [ "$(hget $PR abandoned_held)" = 1 ]'   # the next record write
check proto_inflight_drained test "$(hget $PR inflight)" = 0
check proto_abandoned_inflight test "$(hget $PR abandoned_inflight)" = 1
check proto_abandoned_held test "$(hget $PR abandoned_held)" = 1
check proto_errors_server test "$(hget $PR errors_server)" = 2
check proto_errors_injected test "$(hget $PR errors_injected)" = 2
check proto_cmd_get_calls test "$(hget $PR cmd:GET:calls)" = 4
check proto_cmd_lpush_errors test "$(hget $PR cmd:LPUSH:errors)" = 1
check proto_cmd_set_injected test "$(hget $PR cmd:SET:injected)" = 2
check proto_cmd_blpop_calls test "$(hget $PR cmd:BLPOP:calls)" = 2
stop_pid "$FL_PID"

ev=$(events fl:run:rf:events:cache)
b2=$(grep 'redis_by_command=BLPOP' <<<"$ev" | grep 'redis_abandoned=1' | head -n1)
echo "# $b2"
check event_blpop_abandoned test "$(kv "$b2" redis_inflight_at_close)" = 1
b1=$(grep 'redis_by_command=BLPOP' <<<"$ev" | grep -v 'redis_abandoned' | head -n1)
check event_blpop_answered test "$(kv "$b1" redis_replies)" = 1
h1=$(grep 'redis_held_at_close=1' <<<"$ev" | head -n1)
check event_held_abandoned test "$(kv "$h1" redis_abandoned)" = 1
check event_held_gave_up test -n "$(kv "$h1" gave_up_ms)"
e1=$(grep 'redis_by_command=HGET' <<<"$ev" | head -n1)
check event_server_error test "$(kv "$e1" redis_errors_server)" = 1
done_tests
