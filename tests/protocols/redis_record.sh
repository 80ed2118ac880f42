#!/usr/bin/env bash
# mode = redis facts in the record and in /stats: commands per name, errors, in-flight commands,
# abandonment of held commands (redis_hang) and of in-flight ones (a blocking command the client
# gave up on), and the verifier's `timeout` check judging a redis proxy from them: real
# redis-server, real redis-cli clients killed after 1 s (their timeout acting).
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/verify/common.bash

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
P=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
redis = $REDIS_URL
run = rr
instance = i1
[proxy cache]
listen = 127.0.0.1:$P
upstream = unix:$REDIS_SOCK
mode = redis
[fault stuck]
proxy = cache
type = redis_hang
match_key = slow:*
[fault stuck-open]
proxy = cache
type = redis_hang
match_key = open:*
[fault ro]
proxy = cache
type = redis_error
error = READONLY
match_command = set
match_key = ro:*
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
R="timeout 10 redis-cli -h 127.0.0.1 -p $P"
for i in 1 2 3; do $R set "k$i" v >/dev/null; done
$R get k1 >/dev/null
$R set ro:1 x >/dev/null 2>&1
$R lpush k1 x >/dev/null 2>&1                  # WRONGTYPE from the server
# three held GETs, each abandoned by its client after about 1 s
for i in 1 2 3; do timeout 1 redis-cli -h 127.0.0.1 -p "$P" get "slow:$i" >/dev/null 2>&1; done
# a blocking command given up on: in flight (not held) when the client leaves
timeout 1 redis-cli -h 127.0.0.1 -p "$P" blpop nolist 0 >/dev/null 2>&1
# one held command still there when /stats is read
timeout 20 redis-cli -h 127.0.0.1 -p "$P" get open:1 >/dev/null 2>&1 &
HELD=$!
sleep 1
ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
echo "# $(jq -c '.proxies.cache.redis' <<<"$ST")"
check stats_redis_set_calls test "$(jq -r '.proxies.cache.redis.by_command.SET.calls' <<<"$ST")" = 4
check stats_redis_set_injected test "$(jq -r '.proxies.cache.redis.by_command.SET.injected' <<<"$ST")" = 1
check stats_redis_lpush_error test "$(jq -r '.proxies.cache.redis.by_command.LPUSH.errors' <<<"$ST")" = 1
check stats_redis_held_now test "$(jq -r '.proxies.cache.redis.held' <<<"$ST")" = 1
check stats_redis_abandoned_held test "$(jq -r '.proxies.cache.redis.abandoned_held' <<<"$ST")" = 3
check stats_redis_abandoned_inflight test "$(jq -r '.proxies.cache.redis.abandoned_inflight' <<<"$ST")" = 1
kill "$HELD" 2>/dev/null; wait "$HELD" 2>/dev/null
sleep 1.5
stop_pid "$FL_PID"

rcli xrange fl:run:rr:events:cache - + >"$TT/events"
python3 - "$TT/events" >"$TT/ev.txt" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
out, cur = [], None
for l in lines:
    if '-' in l and l.replace('-', '').isdigit():
        if cur: out.append(cur)
        cur = []
    elif cur is not None:
        cur.append(l)
if cur: out.append(cur)
for e in out:
    print(' '.join('%s=%s' % (e[i], e[i + 1].replace(' ', '_')) for i in range(0, len(e) - 1, 2)))
EOF
held=$(grep 'redis_held_at_close=1' "$TT/ev.txt" | head -n1)
echo "# $held"
check event_held_abandoned test "$(kv "$held" redis_abandoned)" = 1
check event_held_by_command test "$(kv "$held" redis_by_command)" = "GET:1/0"
check event_held_hang_ms test -n "$(kv "$held" hang_ms)" -a -n "$(kv "$held" gave_up_ms)"
check event_held_count test "$(grep -c 'redis_held_at_close=1' "$TT/ev.txt")" = 4
blk=$(grep 'BLPOP' "$TT/ev.txt" | head -n1)
check event_blocking_abandoned test "$(kv "$blk" redis_abandoned)" = 1
check event_blocking_inflight test "$(kv "$blk" redis_inflight_at_close)" = 1
ro=$(grep 'redis_errors_injected=1' "$TT/ev.txt" | head -n1)
check event_injected_error test -n "$ro"
check proto_hash_get_calls eval '[ "$(rcli hget fl:run:rr:proto:cache:i1 cmd:GET:calls)" -ge 5 ]'
check proto_hash_abandoned_held test "$(rcli hget fl:run:rr:proto:cache:i1 abandoned_held)" = 4
check proto_hash_mode test "$(rcli hget fl:run:rr:proto:cache:i1 mode)" = redis

# the timeout check reads the held commands' hang/gave-up marks on a redis proxy (the three
# GETs its clients gave up on after 1 s; the one held across /stats has a fault of its own)
{ printf '[proxy cache]\nlisten = 127.0.0.1:%s\nupstream = unix:%s\nmode = redis\n' "$P" "$REDIS_SOCK"
  printf '[expect loose]\ncheck = timeout\nproxy = cache\nfault = stuck\nwithin = 5s\n'
  printf '[expect tight]\ncheck = timeout\nproxy = cache\nfault = stuck\nwithin = 300ms\n'
} >"$TT/e.ini"
vverify "$TT/e.ini" rr
expect_verdict loose PASS
expect_verdict tight FAIL
check loose_counts_three bash -c "echo \"\$1\" | grep '^loose ' | grep -q '3 held calls'" _ "$VOUT"
check tight_says_waited bash -c "echo \"\$1\" | grep -q 'FAIL tight: the client waited'" _ "$VOUT"
done_tests
