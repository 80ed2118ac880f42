#!/usr/bin/env bash
# mode = postgres facts in the record and in /stats, and the verifier's `postgres` check judged
# from them with no database privileges (source = record, automatic without a dsn): a real
# Postgres, real libpq clients through the proxy (tests/peers/vclient_pg.c) — one gives its burst
# of transactions back (PASS), one leaves them idle in transaction (FAIL) — and a pg_latency
# window from 3 s to 6 s for `within`. Also: the per-connection event fields (user, application,
# queries, transactions, idle in transaction, cancels matched to their session, who closed).
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/verify/common.bash

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
P=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = info
redis = $REDIS_URL
run = pgr
instance = i1
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
[fault slow-select]
proxy = db
type = pg_latency
delay = 20ms
match_query = ^select 1\$
start = 3s
duration = 3s
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
DSN="host=127.0.0.1 port=$P user=postgres dbname=postgres"
"$TBIN/vclient_pg" "$DSN" svc-good 10 1 3.5 3 good >"$TT/pg.good" 2>&1 &
G=$!
"$TBIN/vclient_pg" "$DSN" svc-leak 10 1 3.5 3 leak >"$TT/pg.leak" 2>&1 &
L=$!
# a real CancelRequest, matched to the session it cancels
"$TBIN/pgclient" "$DSN application_name=canceller" "cancel:select pg_sleep(10):300" >"$TT/cancel.out" 2>&1
# /stats while the leaking client holds its transactions open (from its burst at 3.5 s to its
# end at 10 s): waited for, not slept for (a client slow to start on a loaded machine opens its
# burst late); a /stats that never shows the three leaked transactions still fails below
leak_in_tx() {
    ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
    [ "$(jq -r '.proxies.db.postgres.sessions[] | select(.application_name == "svc-leak") | .in_tx' <<<"$ST" 2>/dev/null)" = 3 ]
}
wait_for 9 leak_in_tx
echo "# $(jq -c '.proxies.db.postgres.sessions' <<<"$ST")"
check stats_pg_section test "$(jq -r '.proxies.db.postgres.startups > 0' <<<"$ST")" = true
check stats_leak_in_tx test "$(jq -r '.proxies.db.postgres.sessions[] | select(.application_name == "svc-leak") | .in_tx' <<<"$ST")" = 3
check stats_leak_live test "$(jq -r '.proxies.db.postgres.sessions[] | select(.application_name == "svc-leak") | .live' <<<"$ST")" = 4
check stats_live_in_tx eval '[ "$(jq -r .proxies.db.postgres.live_in_tx <<<"$ST")" -ge 3 ]'
wait $G; wait $L
# every session's close event in the record before faultline stops (4 good, 4 leaking, the
# canceller and its CancelRequest connection): waited for, not a fixed sleep
closes_recorded() { [ "$(rcli xrange fl:run:pgr:events:db - + | grep -c '^pg_in_tx_at_close$')" -ge 8 ]; }
wait_for 15 closes_recorded || echo "# only $(rcli xrange fl:run:pgr:events:db - + | grep -c '^pg_in_tx_at_close$') close events with pg_in_tx_at_close"
sleep 0.5   # the series' and R:proto's last write (once a second) after the closes
stop_pid "$FL_PID"

# the record: per-connection facts on the conn events, totals in R:proto, sessions in R:pgstate
rcli xrange fl:run:pgr:events:db - + >"$TT/events"
ev_with() { awk -v RS='' '1' "$TT/events" | tr '\n' ' ' | grep -o "kind conn[^)]*$1[^)]*" ; }
python3 - "$TT/events" >"$TT/ev.txt" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
# redis-cli xrange: id, then alternating field/value lines; entries start at a line of the form N-N
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
leak=$(grep 'pg_app=svc-leak' "$TT/ev.txt" | grep 'pg_in_tx_at_close=1' | head -n1)
echo "# $leak"
check event_leak_in_tx_at_close test -n "$leak"
check event_leak_idle_in_tx within "$(kv "$leak" pg_idle_in_tx_max_ms)" 4000 20000
check event_user test "$(kv "$leak" pg_user)" = postgres
check event_xacts test "$(kv "$leak" pg_xacts)" = 1
good=$(grep 'pg_app=svc-good' "$TT/ev.txt" | grep 'pg_xacts=1' | head -n1)
check event_good_not_in_tx test "$(kv "$good" pg_in_tx_at_close)" = 0
check event_good_terminate test "$(kv "$good" pg_terminate)" = 1
# after a Terminate the server closes too, and its FIN may come first: the closer is the client
check event_good_closed_by test "$(kv "$good" closed_by)" = client
base=$(grep 'pg_app=svc-good' "$TT/ev.txt" | grep 'pg_xacts=0' | head -n1)
check event_queries eval '[ "$(kv "$base" pg_queries)" -ge 30 ]'
target=$(grep 'pg_cancel_request=1' "$TT/ev.txt" | head -n1)
cancelled=$(grep 'pg_app=canceller' "$TT/ev.txt" | head -n1)
check event_cancel_target test -n "$(kv "$target" pg_cancel_target)" -a "$(kv "$target" pg_cancel_target)" = "$(kv "$cancelled" id)"
check event_cancels_received test "$(kv "$cancelled" pg_cancels_received)" = 1
check proto_hash_xacts eval '[ "$(rcli hget fl:run:pgr:proto:db:i1 xacts)" -ge 6 ]'
check proto_hash_closed_in_tx eval '[ "$(rcli hget fl:run:pgr:proto:db:i1 closed_in_tx)" -ge 3 ]'
check proto_hash_cancels test "$(rcli hget fl:run:pgr:proto:db:i1 cancels_matched)" = 1
check pgstate_entries eval '[ "$(rcli xlen fl:run:pgr:pgstate:db)" -ge 10 ]'
check pgstate_ttl eval '[ "$(rcli ttl fl:run:pgr:pgstate:db)" -gt 0 ]'

# the verifier, with no dsn: judged from the proxy's record
{ cat <<EOT
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
EOT
  for n in good leak; do
    # max leaves room above the clients' own bound: a closed session stays counted until the server
    # has closed its side too, so a pool replacing sessions overlaps briefly on a loaded machine
    printf '[expect %s]\ncheck = postgres\nproxy = db\napplication_name = svc-%s\nmax = 10\nidle_in_transaction_max = 3s\nwithin = 3s\n' "$n" "$n"
  done
  printf '[expect crowd]\ncheck = postgres\nsource = record\nproxy = db\nuser = postgres\nmax = 3\n'
  printf '[expect nobody]\ncheck = postgres\nproxy = db\napplication_name = nobody\nmax = 1\nidle_in_transaction_max = 1s\n'
} >"$TT/e.ini"
vverify "$TT/e.ini" pgr
expect_verdict good PASS
expect_verdict leak FAIL
check leak_is_idle_in_tx bash -c "echo \"\$1\" | grep -q 'FAIL leak: a connection stayed idle in transaction'" _ "$VOUT"
expect_verdict crowd FAIL
check crowd_is_pool bash -c "echo \"\$1\" | grep -q 'above 3: pool exhaustion'" _ "$VOUT"
expect_verdict nobody PASS
check exit_1 test "$VRC" = 1
# a dsn with source = record is a mistake; source = record without a proxy too
printf '[expect x]\ncheck = postgres\nsource = record\nmax = 1\n' >"$TT/bad.ini"
"$FL" check "$TT/bad.ini" >"$TT/bad.out" 2>&1
check record_needs_proxy grep -q "needs 'proxy'" "$TT/bad.out"
done_tests
