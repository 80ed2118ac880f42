#!/usr/bin/env bash
# A query (pg_hang) and a command (redis_hang) held with on_end = release, released by removing
# the fault through the admin API while the client still waits (no short timeout): the client
# gets its answer, and the connection's event keeps when the hold began (hang_ms) besides when it
# ended (hang_end_ms), as tcp and http mode do. Releasing used to clear the start, so a client
# that waited the whole hold looked never held: `check = timeout` with a bound shorter than the
# wait must FAIL on it, not find nothing to judge.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/record/common.bash
source tests/verify/common.bash

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
PP=$(free_port); RP=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
redis = $REDIS_URL
run = hrel
instance = i1
[proxy db]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$PGPORT
mode = postgres
[proxy cache]
listen = 127.0.0.1:$RP
upstream = unix:$REDIS_SOCK
mode = redis
[fault pg-stuck]
proxy = db
type = pg_hang
on_end = release
match_query = stuck_me
[fault redis-stuck]
proxy = cache
type = redis_hang
on_end = release
match_key = slow:*
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
DSN="host=127.0.0.1 port=$PP user=postgres dbname=postgres application_name=waiter"
"$TBIN/pgclient" "$DSN" "q:select 1" "q:select 'stuck_me'" "q:select 2" >"$TT/pg.out" 2>&1 &
PGC=$!
timeout 20 redis-cli -h 127.0.0.1 -p "$RP" get slow:1 >"$TT/redis.out" 2>&1 &
RC=$!
# both held now (the query never reached postgres, the GET never reached redis)
check held_both wait_for 10 bash -c "curl -s -m 2 http://127.0.0.1:$AP/stats | jq -e '.proxies.db.postgres.held == 1 and .proxies.cache.redis.held == 1' >/dev/null"
sleep 1.2
check pg_fault_deleted test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -XDELETE "http://127.0.0.1:$AP/faults/pg-stuck")" = 204
check redis_fault_deleted test "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -XDELETE "http://127.0.0.1:$AP/faults/redis-stuck")" = 204
wait_for 15 bash -c "! kill -0 $PGC 2>/dev/null"
wait_for 15 bash -c "! kill -0 $RC 2>/dev/null"
echo "# pg: $(tr '\n' ' ' <"$TT/pg.out")"
check pg_released_answered grep -q "step=2 kind=q status=PGRES_TUPLES_OK .*rows=1" "$TT/pg.out"
check pg_session_usable_after grep -q "step=3 kind=q status=PGRES_TUPLES_OK" "$TT/pg.out"
check pg_released_waited within "$(sed -n 's/^step=2 .* ms=\([0-9.]*\)$/\1/p' "$TT/pg.out")" 1000 15000
check redis_released_answered test "$(cat "$TT/redis.out")" = ""
check redis_client_ok wait "$RC"
wait_for 10 grep -q "event=pg_session .*application=waiter" "$TT/fl.log"
wait_for 10 grep -q "event=redis_session .*by_command=GET" "$TT/fl.log"
sleep 1.5   # the recorder's next flush
stop_pid "$FL_PID"

released() {   # released MODE EVENT: the record kept when the hold began and when it ended, no give-up
    local h he
    echo "# $1 event: $2"
    h=$(kv "$2" hang_ms); he=$(kv "$2" hang_end_ms)
    check "$1_hang_ms_kept" test -n "$h"
    check "$1_hang_end_ms" test -n "$he"
    check "$1_hang_lasted" within "$(awk -v a="$he" -v b="$h" 'BEGIN { print a - b }')" 1000 15000
    check "$1_not_a_give_up" test -z "$(kv "$2" gave_up_ms)"
}
pe=$(events fl:run:hrel:events:db | grep 'pg_app=waiter' | tail -n1)
released pg "$pe"
check pg_hang_fault_named test "$(kv "$pe" fault)" = pg-stuck
check pg_not_held_at_end test -z "$(kv "$pe" held_at_end)$(kv "$pe" pg_held_at_close)"
re=$(events fl:run:hrel:events:cache | grep 'redis_by_command=GET' | tail -n1)
released redis "$re"
check redis_not_held_at_close test -z "$(kv "$re" redis_held_at_close)$(kv "$re" redis_abandoned)"

# the verifier sees clients that waited > 1 s on held calls, released by the fault (not given up)
{ printf '[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = postgres\n' "$PP" "$PGPORT"
  printf '[proxy cache]\nlisten = 127.0.0.1:%s\nupstream = unix:%s\nmode = redis\n' "$RP" "$REDIS_SOCK"
  printf '[expect pg-short]\ncheck = timeout\nproxy = db\nwithin = 300ms\n'
  printf '[expect redis-short]\ncheck = timeout\nproxy = cache\nwithin = 300ms\n'
} >"$TT/e.ini"
vverify "$TT/e.ini" hrel
expect_verdict pg-short FAIL
expect_verdict redis-short FAIL
done_tests
