#!/usr/bin/env bash
# postgres judged from the database's own view: a real Postgres, two real libpq clients (one
# gives a burst of transactions back, one leaves them idle in transaction: an error path that
# forgot ROLLBACK), pg_stat_activity sampled into the record by `faultline verify --sample`
# during a real faultline run (a hang fault on a tcp proxy from 3s to 6s gives the window).
# Also: one look at verify time (oneshot) while the leak is still there, INCONCLUSIVE without
# samples and without a fault, exit 2 when Postgres is down. And samples that missed the fault
# window (a sampler stalled by a loaded machine: samples before the fault and long after it,
# none during): INCONCLUSIVE, never the PASS of "longest idle in tx 0ms"; the same samples
# over the whole window PASS.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; exit 1; }
DSN="host=$PGHOST port=$PGPORT user=postgres dbname=postgres"
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = pg1
instance = i1
[proxy api]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[fault api-hang]
proxy = api
type = hang
start = 3s
duration = 3s
INI
expect() {  # NAME APP [extra lines]
    printf '[expect %s]\ncheck = postgres\ndsn = %s\napplication_name = %s\nmax = 6\nidle_in_transaction_max = 3s\nwithin = 3s\ninterval = 300ms\n%s\n' \
        "$1" "$DSN" "$2" "${3:-}"
}
{ expect good svc-good; expect leak svc-leak; } >"$TT/e.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
"$FL" verify "$TT/e.ini" --run pg1 --redis "$REDIS_URL" --sample --for 11s 2>"$TT/sampler.log" &
SAMPLER=$!
_PIDS+=($SAMPLER)
"$TBIN/vclient" --addr "127.0.0.1:$LP" --rate 5 --duration 10 --timeout 500 >/dev/null &
"$TBIN/vclient_pg" "$DSN" svc-good 10 1 3.5 3 good >"$TT/pg.good" 2>&1 &
G=$!
"$TBIN/vclient_pg" "$DSN" svc-leak 16 1 3.5 3 leak >"$TT/pg.leak" 2>&1 &
L=$!
wait $G
wait "$SAMPLER"
check sampler_exit_0 [ $? = 0 ]
stop_pid "$FL_PID"
check sampler_wrote_samples [ "$(rcli xlen fl:run:pg1:pg:good)" -ge 20 ]
check samples_have_ttl [ "$(rcli ttl fl:run:pg1:pg:good)" -gt 0 ]

vverify "$TT/e.ini" pg1
check exit_1 [ "$VRC" = 1 ]
expect_verdict good PASS
expect_verdict leak FAIL
check leak_is_idle_in_tx bash -c "echo \"\$1\" | grep -q 'FAIL leak: a connection stayed idle in transaction'" _ "$VOUT"
check good_peak_4 bash -c "echo \"\$1\" | grep '^good ' | grep -q 'peak 4 conns'" _ "$VOUT"

# one look now, while the leaking client still holds its transactions (> 2 s idle by now)
{ expect now-leak svc-leak "oneshot = yes"; } | grep -v '^within' >"$TT/o.ini"
vverify "$TT/o.ini" pg1
expect_verdict now-leak FAIL oneshot
wait $L
# after the leaking client exited, the look now is clean
vverify "$TT/o.ini" pg1
expect_verdict now-leak PASS oneshot_after_exit
# never sampled: inconclusive
expect unsampled svc-good >"$TT/u.ini"
vverify "$TT/u.ini" pg1
expect_verdict unsampled INCONCLUSIVE no_samples
check exit_3_unsampled [ "$VRC" = 3 ]
# samples that miss the window: the catalog's idle-in-transaction shape (no `within`)
fx_run pgmiss 0 30
fx_window pgmiss api-hang api hang 10 20
fx_fault pgmiss api-hang api hang 5
fx_run pgfull 0 30
fx_window pgfull api-hang api hang 10 20
fx_fault pgfull api-hang api hang 5
for t in $(seq 0 0.5 29.5); do
    case $t in 9.5|1[0-9].*|2[0-4].*) ;; *) rcli xadd fl:run:pgmiss:pg:idle '*' at_ms "$(fxms "$t")" count 2 idle_in_tx 0 idle_in_tx_max_ms 0 ok 1 >/dev/null ;; esac
    rcli xadd fl:run:pgfull:pg:idle '*' at_ms "$(fxms "$t")" count 2 idle_in_tx 0 idle_in_tx_max_ms 0 ok 1 >/dev/null
done
printf '[expect idle]\ncheck = postgres\ndsn = %s\napplication_name = svc-none\nidle_in_transaction_max = 2s\ninterval = 500ms\n' "$DSN" >"$TT/miss.ini"
vverify "$TT/miss.ini" pgmiss
expect_verdict idle INCONCLUSIVE samples_miss_window
check samples_miss_window_why bash -c "echo \"\$1\" | grep -q 'INCONCLUSIVE idle: the samples missed the fault: none for .* after fault window 1 began'" _ "$VOUT"
vverify "$TT/miss.ini" pgfull
expect_verdict idle PASS samples_cover_window
# Postgres down: exit 2
"$FL" verify "$TT/e.ini" --run pg1 --redis "$REDIS_URL" --pg x >"$TT/o" 2>&1
runuser -u postgres -- "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1
vverify "$TT/e.ini" pg1
check pg_down_exit_2 [ "$VRC" = 2 ]
check pg_down_says_unreachable bash -c "echo \"\$1\" | grep -q 'postgres unreachable'" _ "$VOUT"
done_tests
