#!/usr/bin/env bash
# TLS under mode = postgres: the SSLRequest exchange on both sides. psql with sslmode=require and
# verify-full (sslrootcert = faultline's CA) through faultline to a real Postgres started with
# ssl = on; a plain client (sslmode=disable) still reaches the server over TLS; pg_error and a
# per-query latency act inside; an upstream that refuses TLS ('N') fails the connection; tls =
# passthrough and refuse keep their meaning.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

CA="$TT/ca"
"$FL" ca init "$CA" --domain db.example.test --domain 127.0.0.1 >/dev/null
mk_cert "$TT/srv"
start_postgres_tls "$TT/srv/cert.pem" "$TT/srv/key.pem" || { fail pg_start "$(tail -n 5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
PLAIN=$(free_port)
P=$(free_port); R=$(free_port); N=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
tls = terminate
tls_ca = $CA
upstream_tls = on
upstream_ca = $TT/srv/cert.pem
upstream_sni = localhost
[proxy refuse]
listen = 127.0.0.1:$R
upstream = 127.0.0.1:$PGPORT
mode = postgres
[proxy notls]
listen = 127.0.0.1:$N
upstream = 127.0.0.1:$PLAIN
mode = postgres
upstream_tls = on
upstream_verify = off
[fault shutdown]
proxy = db
type = pg_error
sqlstate = 57P01
severity = FATAL
match_query = shutdown_me
[fault slowq]
proxy = db
type = pg_latency
delay = 400ms
match_query = slow_me
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
Q="host=127.0.0.1 port=$P user=postgres dbname=postgres"
SSLQ="select ssl, version from pg_stat_ssl where pid = pg_backend_pid()"

out=$(psql "$Q sslmode=require" -XAtc "select 40+2" 2>&1)
check psql_require test "$out" = 42
out=$(psql "$Q sslmode=verify-full sslrootcert=$CA/ca.crt" -XAtc "select 1" 2>&1)
check psql_verify_full_ip test "$out" = 1
out=$(psql "host=db.example.test hostaddr=127.0.0.1 port=$P user=postgres dbname=postgres sslmode=verify-full sslrootcert=$CA/ca.crt" -XAtc "select 2" 2>&1)
check psql_verify_full_name test "$out" = 2
out=$(psql "host=other.test hostaddr=127.0.0.1 port=$P user=postgres dbname=postgres sslmode=verify-full sslrootcert=$CA/ca.crt" -XAtc "select 3" 2>&1)
check psql_name_outside_constraints grep -qi "unrecognized name" <<<"$out"
out=$(psql "$Q sslmode=disable" -XAtc "$SSLQ" 2>&1)
check plain_client_tls_upstream grep -q "^t|TLSv1" <<<"$out"
out=$(psql "$Q sslmode=require" -XAtc "$SSLQ" 2>&1)
check server_sees_tls grep -q "^t|TLSv1" <<<"$out"
out=$(psql "$Q sslmode=require" -XAtc "select 'shutdown_me'" 2>&1)
check pg_error_inside_tls grep -q "57P01\|terminating connection" <<<"$out"
t0=$(date +%s%N)
out=$(psql "$Q sslmode=require" -XAtc "select 'slow_me'" 2>&1)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check latency_inside_tls eval '[ "$out" = slow_me ] && within $ms 390 5000'
# libpq with many round trips over TLS (extended protocol, COPY)
out=$("$TBIN/pgclient" "$Q sslmode=require application_name=tlsc" "q:create table t(i int, n text)" "copyin:t:5000" \
    "x:select count(*) from t" "pipe:20:select 1" 2>&1)
check libpq_copy_in grep -q "kind=copyin status=PGRES_COMMAND_OK sqlstate=- rows=5000" <<<"$out"
check libpq_pipeline grep -q "kind=pipe ok=20 errors=0" <<<"$out"
# without tls = terminate the SSLRequest is refused as before ('N')
out=$(psql "host=127.0.0.1 port=$R user=postgres dbname=postgres sslmode=require" -XAtc "select 1" 2>&1)
check refuse_unchanged grep -qi "ssl" <<<"$out"
# an upstream that answers 'N' (ssl = off): the connection fails, counted and logged
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
mkdir -p "$TT/pg2" && chown postgres "$TT/pg2"
runuser -u postgres -- "$bin/initdb" -D "$TT/pg2" -A trust -U postgres >/dev/null 2>&1
runuser -u postgres -- "$bin/pg_ctl" -D "$TT/pg2" -l "$TT/pg.log" -w -t 30 \
    -o "-p $PLAIN -k $TT/pgsock -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
out=$(psql "host=127.0.0.1 port=$N user=postgres dbname=postgres sslmode=disable" -XAtc "select 1" 2>&1)
check upstream_refused_tls eval '[ "$out" != 1 ] && grep -q "proxy=notls .*error=\"the upstream refused TLS\"" "$FL_LOG"'
runuser -u postgres -- "$bin/pg_ctl" -D "$TT/pg2" -m immediate stop >/dev/null 2>&1
stop_pid "$FL_PID"
check ssl_terminated_counted grep -q "event=pg_session .*application=tlsc" "$FL_LOG"
done_tests
