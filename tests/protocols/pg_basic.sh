#!/usr/bin/env bash
# mode = postgres with no faults: real psql, pgbench and libpq (tests/peers/pgclient.c) through the
# proxy — simple and extended protocol, COPY both ways, a large result set, pipelining, a real
# CancelRequest matched to its session — and the facts the engine logs per session.
cd "$(dirname "$0")/../.."
source tests/lib.sh

start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
P=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
CI="host=127.0.0.1 port=$P user=postgres dbname=postgres application_name=basic"

# psql: SSLRequest answered 'N' (sslmode=prefer falls back to plain), simple queries
out=$(PGSSLMODE=prefer psql -h 127.0.0.1 -p "$P" -U postgres -X -At -c "select 40+2" postgres 2>&1)
check psql_simple_query test "$out" = 42
out=$(PGSSLMODE=require psql -h 127.0.0.1 -p "$P" -U postgres -X -At -c "select 1" postgres 2>&1)
check psql_sslmode_require_refused grep -qi "ssl" <<<"$out"

# libpq: COPY in/out, a large result, extended protocol, prepared statements, pipelining
out=$("$TBIN/pgclient" "$CI" "q:create table t(i int, n text)" "copyin:t:20000" "copyout:select * from t" \
    "q:select i, n, repeat('x', 200) from t" "x:select count(*) from t" "x1:select \$1::int + 1:41" \
    "prep:s1:select n from t where i < 10" "exec:s1" "exec:s1" "pipe:20:select 1" "q:begin" "q:select 1" "sleep:300" "q:commit" 2>&1)
echo "$out" | sed 's/^/# /'
check copy_in grep -q "step=2 kind=copyin status=PGRES_COMMAND_OK sqlstate=- rows=20000" <<<"$out"
check copy_out grep -q "step=3 kind=copyout status=PGRES_COMMAND_OK sqlstate=- rows=20000 bytes=$(grep -o 'step=2 .*bytes=[0-9]*' <<<"$out" | sed 's/.*bytes=//')" <<<"$out"
check large_result grep -q "step=4 kind=q status=PGRES_TUPLES_OK sqlstate=- rows=20000" <<<"$out"
check extended_count grep -q "step=5 kind=x status=PGRES_TUPLES_OK sqlstate=- rows=1" <<<"$out"
check extended_param grep -q "step=6 kind=x1 status=PGRES_TUPLES_OK" <<<"$out"
check prepared grep -q "step=9 kind=exec status=PGRES_TUPLES_OK sqlstate=- rows=10" <<<"$out"
check pipeline grep -q "step=10 kind=pipe ok=20 errors=0" <<<"$out"
check session_usable grep -q "conn=ok txstatus=I" <<<"$out"

# a real CancelRequest (PQcancel) on a new connection, matched to the session it cancels
out=$("$TBIN/pgclient" "$CI" "cancel:select pg_sleep(10):400" 2>&1)
check cancel_reaches_server grep -q "kind=cancel status=PGRES_FATAL_ERROR sqlstate=57014" <<<"$out"
check cancel_fast within "$(grep -o 'kind=cancel.*ms=[0-9.]*' <<<"$out" | sed 's/.*ms=//')" 300 5000

# pgbench: initialize and a short select-only run through the proxy
PGB=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)
if "$PGB" -h 127.0.0.1 -p "$P" -U postgres -i -s 1 -q postgres >"$TT/pgbi.log" 2>&1; then pass pgbench_init
else fail pgbench_init "$(tail -n 3 "$TT/pgbi.log")"; fi
"$PGB" -h 127.0.0.1 -p "$P" -U postgres -S -c 4 -j 2 -t 300 postgres >"$TT/pgb.log" 2>&1
check pgbench_select_only grep -q "number of transactions actually processed: 1200/1200" "$TT/pgb.log"
"$PGB" -h 127.0.0.1 -p "$P" -U postgres -S -M prepared -c 2 -t 200 postgres >"$TT/pgbp.log" 2>&1
check pgbench_prepared grep -q "number of transactions actually processed: 400/400" "$TT/pgbp.log"

# a client that sends Terminate and keeps its socket open a while: the server closes first, and
# the session still counts as ended by the client (fact_closed_by_after_terminate below)
out=$("$TBIN/pgclient" "host=127.0.0.1 port=$P user=postgres dbname=postgres application_name=linger" "q:select 1" "terminate:400" 2>&1)
check terminate_sent grep -q "kind=terminate sent=5" <<<"$out"

stop_pid "$FL_PID"
# facts: user, application, queries, transactions, idle in transaction, cancels, who closed
s=$(grep 'event=pg_session' "$FL_LOG" | grep 'application=basic' | grep 'rows=4' | head -n1)
[ -n "$s" ] || s=$(grep 'event=pg_session' "$FL_LOG" | grep 'application=basic' | head -n1)
echo "# $s"
check fact_user test "$(kv "$s" user)" = postgres
check fact_queries within "$(kv "$s" queries)" 30 40
check fact_xacts test "$(kv "$s" xacts)" = 1
check fact_idle_in_tx within "$(kv "$s" idle_in_tx_ms)" 250 3000
check fact_terminate test "$(kv "$s" terminate)" = yes
check fact_closed_by_client test "$(kv "$s" closed_by)" = client
l=$(grep 'event=pg_session' "$FL_LOG" | grep 'application=linger' | head -n1)
echo "# $l"
check fact_closed_by_after_terminate eval '[ "$(kv "$l" terminate)" = yes ] && [ "$(kv "$l" closed_by)" = client ]'
check fact_cancel_matched grep -q "event=pg_cancel .*held=no user=postgres application=basic" "$FL_LOG"
c=$(grep 'event=pg_session' "$FL_LOG" | grep 'application=basic' | grep 'cancels_received=1' | head -n1)
check fact_cancels_received test -n "$c"
check fact_cancel_conn grep -q "event=pg_session .*cancel_request=yes" "$FL_LOG"
check pgbench_app_seen grep -q "event=pg_session .*application=pgbench" "$FL_LOG"
check no_garbage_logged bash -c "! grep -q pg_garbage '$FL_LOG'"
done_tests
