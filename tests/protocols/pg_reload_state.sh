#!/usr/bin/env bash
# A postgres session open across a reload that replaces its proxy (SIGHUP with a new listen
# address: the old object is retired and keeps its connections until they close). The session
# sits idle inside a transaction; the record's R:pgstate and /stats must still show it (in_tx,
# idle time) while it lives on the retired object, and must stop showing it once it has closed.
# Before, both only walked the live object's connections: the session vanished at the reload.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/record/common.bash

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
P1=$(free_port); P2=$(free_port); AP=$(free_port)
prof() {
    cat <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
redis = $REDIS_URL
run = pgrl
instance = i1
[proxy db]
listen = 127.0.0.1:$1
upstream = 127.0.0.1:$PGPORT
mode = postgres
EOT
}
prof "$P1" >"$TT/p.ini"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
DSN1="host=127.0.0.1 port=$P1 user=postgres dbname=postgres"
# BEGIN, one statement, then idle in the transaction for 7 s, then COMMIT and close
"$TBIN/pgclient" "$DSN1 application_name=held-over" "q:begin" "q:select 1" "sleep:7000" "q:commit" \
    >"$TT/held.out" 2>&1 &
HP=$!
wait_for 10 grep -q "step=2 kind=q status=PGRES_TUPLES_OK" "$TT/held.out"

# the reload: same name, new address -> a new proxy object; the session stays on the old one
prof "$P2" >"$TT/p.ini"
kill -HUP "$FL_PID"
wait_port "$P2" 10 || fail reload_listen "the new listener did not come up: $(tail -n 5 "$TT/fl.log")"
check reload_logged wait_for 10 grep -q "event=reload" "$TT/fl.log"
check old_listener_closed bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$P1) 2>/dev/null"
check session_still_open kill -0 "$HP"
sleep 2.5          # two record intervals after the reload

ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
echo "# $(jq -c '.proxies.db.postgres | {live, live_in_tx, sessions}' <<<"$ST")"
check stats_live_after_reload test "$(jq -r '.proxies.db.postgres.live' <<<"$ST")" = 1
check stats_in_tx_after_reload test "$(jq -r '.proxies.db.postgres.live_in_tx' <<<"$ST")" = 1
g=$(jq -c '.proxies.db.postgres.sessions[] | select(.application_name == "held-over")' <<<"$ST")
check stats_group_live test "$(jq -r .live <<<"$g")" = 1
check stats_group_in_tx test "$(jq -r .in_tx <<<"$g")" = 1
check stats_group_idle within "$(jq -r .idle_in_tx_max_ms <<<"$g")" 1500 60000

last_state() { events fl:run:pgrl:pgstate:db | tail -n1; }
e=$(last_state)
echo "# pgstate after the reload: $e"
check pgstate_conns_after_reload test "$(kv "$e" conns)" = 1
check pgstate_in_tx_after_reload test "$(kv "$e" in_tx)" = 1
check pgstate_idle_after_reload within "$(kv "$e" idle_in_tx_max_ms)" 1500 60000
check pgstate_group_app test "$(kv "$e" app.0)" = held-over
check pgstate_group_in_tx test "$(kv "$e" in_tx.0)" = 1
check pgstate_totals_live test "$(rcli --raw hget fl:run:pgrl:proto:db:i1 live_in_tx)" = 1

# the session ends (COMMIT, close): it is gone from both
wait_for 20 bash -c "! kill -0 $HP 2>/dev/null"
check held_session_committed grep -q "step=4 kind=q status=PGRES_COMMAND_OK" "$TT/held.out"
wait_for 10 grep -q "event=pg_session .*application=held-over" "$TT/fl.log"
sleep 2.5
ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
check stats_gone_live test "$(jq -r '.proxies.db.postgres.live' <<<"$ST")" = 0
check stats_gone_in_tx test "$(jq -r '.proxies.db.postgres.live_in_tx' <<<"$ST")" = 0
check stats_gone_group test "$(jq -r '.proxies.db.postgres.sessions[] | select(.application_name == "held-over") | .live' <<<"$ST")" = 0
e=$(last_state)
echo "# pgstate after the close: $e"
check pgstate_gone_conns test "$(kv "$e" conns)" = 0
check pgstate_gone_in_tx test "$(kv "$e" in_tx)" = 0
check pgstate_gone_groups test "$(kv "$e" groups)" = 0

stop_pid "$FL_PID"
done_tests
