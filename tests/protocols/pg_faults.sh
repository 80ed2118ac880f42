#!/usr/bin/env bash
# pg_error, pg_latency, pg_hang and pg_drop on a real postgres, seen by libpq (pgclient), psql and
# pgbench: each SQLSTATE arrives with its code, the session stays usable after an ERROR, FATAL
# and startup errors close, held queries are timed and their abandonment recorded.
cd "$(dirname "$0")/../.."
source tests/lib.sh

start_postgres || { fail pg_start "postgres did not start"; done_tests; exit; }
P=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
[fault too-many]
proxy = db
type = pg_error
at = startup
sqlstate = 53300
match_application = crowd*
[fault admin-shutdown]
proxy = db
type = pg_error
sqlstate = 57P01
severity = FATAL
match_query = shutdown_me
[fault serialization]
proxy = db
type = pg_error
sqlstate = 40001
match_query = ser_me
[fault deadlock]
proxy = db
type = pg_error
sqlstate = 40P01
message = deadlock injected by the test
match_query = dead_me
match_user = postgres
[fault slow]
proxy = db
type = pg_latency
delay = 400ms
match_query = slow_me
[fault stuck]
proxy = db
type = pg_hang
match_query = stuck_me
[fault cut]
proxy = db
type = pg_drop
after_rows = 100
match_query = cut_me
[fault rst]
proxy = db
type = pg_drop
after_rows = 0
close = rst
match_query = rst_me
[fault pgb]
proxy = db
type = pg_error
sqlstate = 40001
probability = 0.2
match_application = pgbench_retry
match_query = ^select abalance
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
CI="host=127.0.0.1 port=$P user=postgres dbname=postgres application_name=faults"

# every ERROR sqlstate with its code, simple and extended protocol, session usable after each
out=$("$TBIN/pgclient" "$CI" "q:select 'ser_me'" "q:select 1" "x:select 'ser_me'" "x:select 2" \
    "q:select 'dead_me'" "x:select 'dead_me'" "prep:p1:select 'dead_me'" "exec:p1" "exec:p1" \
    "q:begin" "q:select 'ser_me'" "q:select 3" "q:commit" "pipe:4:select 'ser_me'" "pipe:3:select 1" 2>&1)
echo "$out" | sed 's/^/# /'
check simple_40001 grep -q "step=1 kind=q status=PGRES_FATAL_ERROR sqlstate=40001" <<<"$out"
check simple_after_error grep -q "step=2 kind=q status=PGRES_TUPLES_OK sqlstate=- rows=1" <<<"$out"
check extended_40001 grep -q "step=3 kind=x status=PGRES_FATAL_ERROR sqlstate=40001" <<<"$out"
check extended_after_error grep -q "step=4 kind=x status=PGRES_TUPLES_OK sqlstate=- rows=1" <<<"$out"
check simple_40P01 grep -q "step=5 kind=q status=PGRES_FATAL_ERROR sqlstate=40P01" <<<"$out"
check extended_40P01 grep -q "step=6 kind=x status=PGRES_FATAL_ERROR sqlstate=40P01" <<<"$out"
check prepare_not_failed grep -q "step=7 kind=prep status=PGRES_COMMAND_OK" <<<"$out"
check exec_prepared_40P01 grep -q "step=9 kind=exec status=PGRES_FATAL_ERROR sqlstate=40P01" <<<"$out"
check in_tx_error grep -q "step=11 kind=q status=PGRES_FATAL_ERROR sqlstate=40001" <<<"$out"
check in_tx_continues grep -q "step=12 kind=q status=PGRES_TUPLES_OK" <<<"$out"
check pipeline_error grep -q "step=14 kind=pipe ok=0 errors=4 sqlstate=40001" <<<"$out"
check pipeline_after grep -q "step=15 kind=pipe ok=3 errors=0" <<<"$out"
check session_usable grep -q "conn=ok txstatus=I" <<<"$out"
out=$(psql -h 127.0.0.1 -p "$P" -U postgres -X -c "select 'dead_me'" postgres 2>&1)
check psql_message grep -q "ERROR:  deadlock injected by the test" <<<"$out"

# FATAL 57P01: the error, then the connection closes (as the server does)
out=$("$TBIN/pgclient" "$CI" "qa:select 'shutdown_me'" 2>&1)
check fatal_57P01 grep -q "status=PGRES_FATAL_ERROR sqlstate=57P01" <<<"$out"
check fatal_closes grep -q "conn=bad" <<<"$out"
out=$(psql -h 127.0.0.1 -p "$P" -U postgres -X -c "select 'shutdown_me'" postgres 2>&1)
check fatal_psql grep -q "FATAL:  terminating connection due to administrator command" <<<"$out"

# startup: 53300 for one application only
out=$("$TBIN/pgclient" "host=127.0.0.1 port=$P user=postgres dbname=postgres application_name=crowd-7" "q:select 1" 2>&1)
check startup_53300 grep -q "connect=failed .*too many clients" <<<"$out"
out=$(PGAPPNAME=crowd psql -h 127.0.0.1 -p "$P" -U postgres -X -c "select 1" postgres 2>&1)
check startup_psql grep -q "FATAL:  sorry, too many clients already" <<<"$out"
out=$("$TBIN/pgclient" "$CI" "q:select 1" 2>&1)
check startup_other_app grep -q "connect=ok" <<<"$out"

# latency: only the matching query waits
out=$("$TBIN/pgclient" "$CI" "q:select 'slow_me'" "x:select 'slow_me'" "q:select 1" 2>&1)
check latency_simple within "$(grep -o 'step=1 .*ms=[0-9.]*' <<<"$out" | sed 's/.*ms=//')" 390 2000
check latency_extended within "$(grep -o 'step=2 .*ms=[0-9.]*' <<<"$out" | sed 's/.*ms=//')" 390 2000
check latency_others_fast within "$(grep -o 'step=3 .*ms=[0-9.]*' <<<"$out" | sed 's/.*ms=//')" 0 300

# hang: the query never reaches the server; the client gives up after 1.5 s (killed)
"$TBIN/pgclient" "$CI" "q:select 1" "q:select 'stuck_me'" >"$TT/hang.out" 2>&1 &
HP=$!
sleep 1.5
check hang_still_waiting kill -0 $HP
check hang_first_query_ran grep -q "step=1 kind=q status=PGRES_TUPLES_OK" "$TT/hang.out"
kill -KILL $HP; wait $HP 2>/dev/null
wait_for 5 grep -q "event=pg_session .*held_at_close=yes .*closed_by=client" "$FL_LOG"
check hang_abandoned grep -q "event=pg_session .*queries=2 .*held_at_close=yes .*closed_by=client" "$FL_LOG"
check hang_not_at_server bash -c "! grep -q stuck_me '$TT/pg.log'"

# drop: 100 rows pass, then FIN; rst: nothing passes, RST
out=$("$TBIN/pgclient" "$CI" "q:select 'cut_me', g from generate_series(1,1000) g" 2>&1)
check drop_mid_result grep -q "status=PGRES_FATAL_ERROR" <<<"$out"
check drop_log grep -q "event=pg_drop .*rows=100 close=fin" "$FL_LOG"
out=$("$TBIN/pgclient" "$CI" "q:select 'rst_me', g from generate_series(1,10) g" 2>&1)
check rst_mid_result grep -q "conn=bad" <<<"$out"
check rst_log grep -q "event=pg_drop .*rows=0 close=rst" "$FL_LOG"

# pgbench with 40001 on 20% of queries: --max-tries retries them (pgbench >= 15)
PGB=$(ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n1)
"$PGB" -h 127.0.0.1 -p "$P" -U postgres -i -s 1 -q postgres >/dev/null 2>&1
PGAPPNAME=pgbench_retry "$PGB" -h 127.0.0.1 -p "$P" -U postgres -S -c 2 -t 200 --max-tries=50 postgres >"$TT/pgb.log" 2>&1
sed "s/^/# /" "$TT/pgb.log" | tail -n 20
check pgbench_all_done grep -q "number of transactions actually processed: 400/400" "$TT/pgb.log"
check pgbench_retried grep -qE "number of transactions retried: [1-9]" "$TT/pgb.log"
done_tests
