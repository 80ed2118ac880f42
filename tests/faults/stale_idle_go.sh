#!/usr/bin/env bash
# stale_idle against Go's database/sql pool over lib/pq (tests/peers/pqpool, Debian's
# golang-github-lib-pq-dev 1.10.7, Go 1.19), a real Postgres behind a mode = postgres proxy. The
# client queries, idles past the fault's `idle`, queries with a context deadline, then queries
# once more. What it shows, as measured:
#   on_use = reset: lib/pq's write succeeds (the kernel takes it), the read meets the RST and
#     lib/pq returns the *net.OpError "read: connection reset by peer" -- not driver.ErrBadConn,
#     so database/sql does not retry: the query fails at once. lib/pq marks the connection bad,
#     so the next query gets a new connection (a new backend) and succeeds. The same with a
#     parameter (lib/pq's extended protocol).
#   on_use = drop: the query blocks past its context deadline: at the deadline lib/pq sends a
#     CancelRequest on a new connection (faultline logs it, matched to the stale session), the
#     backend never saw the query so nothing answers, and the call is still blocked 2.5 x the
#     deadline later. A query after it gets a new connection.
#   SetConnMaxIdleTime shorter than `idle`: the pool's cleaner closes the idle connection
#     (Terminate, through faultline while it is still fresh), the next query opens a new one:
#     no error, no reset.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

PQ=/usr/share/gocode/src/github.com/lib/pq
if ! command -v go >/dev/null 2>&1; then
    echo "ok stale_idle_go # skip: go is not installed (apt-get install golang-go; scripts/install-deps.sh does)"
    exit 0
fi
if [ ! -f "$PQ/conn.go" ]; then
    echo "ok stale_idle_go # skip: lib/pq is not installed (apt-get install golang-github-lib-pq-dev; scripts/install-deps.sh does)"
    exit 0
fi
# the peer, built here in GOPATH mode against Debian's lib/pq (no module download)
PQPOOL="$BUILD/t/pqpool"
SRC=tests/peers/pqpool/main.go
[ -f "$SRC" ] || SRC="$(dirname "$0")/../peers/pqpool/main.go"
if [ ! -x "$PQPOOL" ] || [ "$SRC" -nt "$PQPOOL" ]; then
    mkdir -p "$BUILD/t" "$BUILD/go/cache"
    GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= GOPROXY=off CGO_ENABLED=0 \
        GOCACHE="$(cd "$BUILD" && pwd)/go/cache" timeout 300 go build -o "$PQPOOL" "$SRC" >"$TT/gobuild.log" 2>&1
fi
check pqpool_built [ -x "$PQPOOL" ]
[ -x "$PQPOOL" ] || { sed 's/^/# /' "$TT/gobuild.log" | tail -n 20; exit 1; }

start_postgres || { fail pg_start "postgres did not start: $(tail -n 5 "$TT/pg.log" 2>/dev/null)"; exit 1; }
LP=$(free_port)
# profile FAULT-LINES...: a postgres-mode proxy "db" in front of the cluster, then the faults
profile() {
    {
        printf '[faultline]\nadmin = off\nlog = debug\n[proxy db]\nlisten = 127.0.0.1:%s\n' "$LP"
        printf 'upstream = 127.0.0.1:%s\nmode = postgres\n' "$PGPORT"
        local l
        for l in "$@"; do printf '%s\n' "$l"; done
    } >"$TT/p.ini"
}
DSN="host=127.0.0.1 port=$LP user=postgres dbname=postgres sslmode=disable connect_timeout=5"
line() { grep "^q=$1 " <<<"$2"; }   # line N OUTPUT: query N's line
# mark / since: the faultline log from the last mark on (each case greps only its own lines)
mark() { MARK=$(wc -l <"$FL_LOG"); }
since() { tail -n +$((MARK + 1)) "$FL_LOG"; }
# ms_of_ts LOGLINE: its ts= as Unix ms
ms_of_ts() { local t; t=$(kv "$1" ts); echo $(( $(date -u -d "${t%Z}" +%s%3N) )); }

# ---- on_use = reset: the stale connection's query fails with ECONNRESET, no retry ----
profile '[fault nat-reset]' 'proxy = db' 'type = stale_idle' 'idle = 1s' 'on_use = reset'
start_fl "$TT/p.ini" "$TT/fl.log" || { fail start "faultline did not start"; exit 1; }
mark
out=$("$PQPOOL" -dsn "$DSN" -pause 1.5s -timeout 2s -hang 5s 2>&1)
echo "$out" | sed 's/^/# reset: /'
q1=$(line 1 "$out") q2=$(line 2 "$out") q3=$(line 3 "$out")
check reset_first_query_ok [ "$(kv "$q1" result)" = ok ]
check reset_stale_query_fails [ "$(kv "$q2" result)" = err ]
check reset_error_is_econnreset_on_read eval '[ "$(kv "$q2" econnreset)" = true ] && [ "$(kv "$q2" netop)" = read ]'
check reset_error_is_connection_reset grep -q 'err="read tcp .*: read: connection reset by peer"' <<<"$q2"
check reset_not_errbadconn_no_retry [ "$(kv "$q2" badconn)" = false ]
check reset_fails_at_once within "$(kv "$q2" ms)" 0 1000
check reset_next_query_new_backend eval '[ "$(kv "$q3" result)" = ok ] && [ "$(kv "$q3" pid)" != "$(kv "$q1" pid)" ]'
check reset_pool_one_open grep -q '^stats open=1 in_use=0 idle=1 ' <<<"$out"
check reset_faultline_closed_stale wait_for 3 eval "since | grep -q 'event=close .*bytes_up=[1-9].* closed_by=fault fault=nat-reset'"
check reset_session_closed_by_fault eval "since | grep -q 'event=pg_session .*user=postgres .*closed_by=fault'"
# the same with a parameter: lib/pq's extended protocol (Parse/Bind/Execute) meets the same read error
out=$("$PQPOOL" -dsn "$DSN" -params -pause 1.5s -timeout 2s -hang 5s 2>&1)
echo "$out" | sed 's/^/# reset, extended protocol: /'
q1=$(line 1 "$out") q2=$(line 2 "$out") q3=$(line 3 "$out")
check reset_extended_fails_no_retry eval '[ "$(kv "$q2" result)" = err ] && [ "$(kv "$q2" badconn)" = false ] && [ "$(kv "$q2" econnreset)" = true ]'
check reset_extended_next_query_ok eval '[ "$(kv "$q3" result)" = ok ] && [ "$(kv "$q3" pid)" != "$(kv "$q1" pid)" ]'

# ---- on_use = drop: the query outlives its context deadline ----
profile '[fault nat-drop]' 'proxy = db' 'type = stale_idle' 'idle = 1s' 'on_use = drop'
reload || fail reload "no reload"
check reset_counted grep -q 'event=fault_removed fault=nat-reset .*resets=2' "$FL_LOG"
mark
out=$("$PQPOOL" -dsn "$DSN" -pause 1.5s -timeout 2s -hang 5s 2>&1)
echo "$out" | sed 's/^/# drop: /'
q1=$(line 1 "$out") q2=$(line 2 "$out") q3=$(line 3 "$out")
check drop_first_query_ok [ "$(kv "$q1" result)" = ok ]
check drop_query_hangs_past_deadline eval '[ "$(kv "$q2" result)" = hung ] && within "$(kv "$q2" ms)" 4900 20000'
check drop_next_query_new_backend eval '[ "$(kv "$q3" result)" = ok ] && [ "$(kv "$q3" pid)" != "$(kv "$q1" pid)" ]'
check drop_pool_holds_stuck_conn grep -q '^stats open=2 in_use=1 idle=1 ' <<<"$out"
# lib/pq's CancelRequest at the deadline, on a new connection, for the stale session's backend
cl=$(since | grep "event=pg_cancel .*backend_pid=$(kv "$q1" pid) ")
check drop_cancel_request_sent [ -n "$cl" ]
[ -n "$cl" ] && echo "# drop: CancelRequest $(( $(ms_of_ts "$cl") - $(kv "$q2" at) )) ms after the query began"
check drop_cancel_at_deadline within "$(( $(ms_of_ts "${cl:-ts=1970-01-01T00:00:00.000Z}") - $(kv "$q2" at) ))" 1950 3500

# ---- SetConnMaxIdleTime below `idle`: the pool never hands out the stale connection ----
profile '[fault nat-long]' 'proxy = db' 'type = stale_idle' 'idle = 2s' 'on_use = reset'
reload || fail reload "no reload"
mark
out=$("$PQPOOL" -dsn "$DSN" -pause 2.5s -timeout 2s -hang 5s -max-idle-time 500ms 2>&1)
echo "$out" | sed 's/^/# max-idle-time: /'
q1=$(line 1 "$out") q2=$(line 2 "$out") q3=$(line 3 "$out")
check maxidle_all_ok eval '[ "$(kv "$q1" result)$(kv "$q2" result)$(kv "$q3" result)" = okokok ]'
check maxidle_new_conn_after_idle eval '[ "$(kv "$q2" pid)" != "$(kv "$q1" pid)" ] && [ "$(kv "$q3" pid)" = "$(kv "$q2" pid)" ]'
check maxidle_closed_by_pool grep -q 'max_idle_time_closed=1$' <<<"$out"
check maxidle_terminate_sent eval "since | grep -q 'event=pg_session .*user=postgres .*terminate=yes closed_by=client'"
profile
reload || fail reload "no reload"
check maxidle_no_reset grep -q 'event=fault_removed fault=nat-long .*resets=0' "$FL_LOG"
check maxidle_nothing_closed_by_fault [ "$(grep -c 'closed_by=fault fault=nat-long' "$FL_LOG")" = 0 ]
done_tests
