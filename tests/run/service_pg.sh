#!/usr/bin/env bash
# The example service's Postgres switches against a real Postgres behind faultline (a latency
# fault that starts once the pool is warm): --pg-leak on leaves a session idle in transaction,
# off does not; --pg-pool 5 keeps the server's view at <= 5 sessions, --pg-pool 0 does not.
# These are the behaviours the pg catalog scenarios and the demo rely on.
. "$(dirname "$0")/../lib.sh"

chmod 777 "$TT"
start_postgres || { fail postgres_started "$(tail -5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
SVC=$BUILD/examples/service
q() { psql -h 127.0.0.1 -p "$PGPORT" -U postgres -Atc "$1" 2>/dev/null; }
app_count() { q "select count(*) from pg_stat_activity where application_name='checkout' $1"; }

# one round: faultline with a latency fault from +2s, the service with FLAGS, warm-up, a burst
round() {  # NAME BURST FLAGS...
    local name=$1 burst=$2; shift 2
    local PX SP
    PX=$(free_port); SP=$(free_port)
    cat >"$TT/$name.ini" <<INI
[faultline]
admin = off
[proxy db]
listen = 127.0.0.1:$PX
upstream = 127.0.0.1:$PGPORT
[fault slow]
proxy = db
type = latency
direction = downstream
delay = 3s
start = 2s
INI
    start_fl "$TT/$name.ini" "$TT/$name.log" || return 1
    local FLP=$FL_PID
    "$SVC" --listen 127.0.0.1:$SP --dep off \
        --pg "host=127.0.0.1 port=$PX user=postgres dbname=postgres application_name=checkout" "$@" 2>"$TT/$name.svc" &
    local S=$!
    _PIDS+=($S)
    wait_for 5 curl -s -m 1 -o /dev/null "http://127.0.0.1:$SP/healthz"
    for _ in 1 2 3; do curl -s -m 2 -o /dev/null "http://127.0.0.1:$SP/checkout"; done
    sleep 2.2   # the fault is acting now
    local cp=() i
    for i in $(seq 1 "$burst"); do curl -s -m 6 -o /dev/null "http://127.0.0.1:$SP/checkout" & cp+=($!); done
    sleep 4.5
    IDLE_TX=$(app_count "and state = 'idle in transaction'")
    ALL=$(app_count "")
    echo "# $name: idle_in_transaction=$IDLE_TX sessions=$ALL"
    wait "${cp[@]}" 2>/dev/null
    kill -TERM $S; wait $S 2>/dev/null
    stop_pid $FLP
    for i in $(seq 1 40); do [ "$(app_count "")" = 0 ] && break; sleep 0.1; done
}

round leak 6 --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak on
check leak_on_leaves_idle_in_transaction [ "${IDLE_TX:-0}" -ge 1 ]
round noleak 6 --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak off
check leak_off_no_idle_in_transaction [ "${IDLE_TX:-9}" = 0 ]
check bounded_pool_at_most_5 [ "${ALL:-99}" -le 5 ]
round unbounded 20 --pg-pool 0 --timeout 0
check unbounded_pool_grows [ "${ALL:-0}" -gt 5 ]
done_tests
