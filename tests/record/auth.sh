#!/usr/bin/env bash
# Redis with a password, a database number and a TCP address: AUTH and SELECT go first on every
# connection; a wrong password is logged and retried while the proxy keeps forwarding.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --requirepass 's3cret@x' --save '' --appendonly no \
    --dir "$TT" --daemonize no --loglevel warning >"$TT/redis.log" 2>&1 &
RPID=$!
_PIDS+=($RPID)
RC() { redis-cli -h 127.0.0.1 -p "$RP" -a 's3cret@x' --no-auth-warning "$@"; }
wait_for 10 bash -c "redis-cli -h 127.0.0.1 -p $RP -a 's3cret@x' --no-auth-warning ping 2>/dev/null | grep -q PONG" ||
    { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
mk() {  # mk URL
    cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $1
run = auth-1
instance = a1
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
}
# password percent-encoded (@ = %40), database 5, TCP
mk "redis://:s3cret%40x@127.0.0.1:$RP/5"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
for i in 1 2 3; do "$TBIN/flpeer" echo "127.0.0.1:$LP" 1000 >/dev/null; done
wait_for 10 bash -c "[ \"\$(redis-cli -h 127.0.0.1 -p $RP -a 's3cret@x' --no-auth-warning -n 5 --raw hget fl:run:auth-1:counters:echo:a1 accepted)\" = 4 ]"
check auth_select_db5 [ "$(RC -n 5 --raw hget fl:run:auth-1:counters:echo:a1 accepted)" = 4 ]
check nothing_in_db0 [ "$(RC -n 0 --raw exists fl:run:auth-1:counters:echo:a1)" = 0 ]
check events_db5 [ "$(RC -n 5 xlen fl:run:auth-1:events:echo)" = 4 ]
check log_masks_password bash -c "! grep -q 's3cret' '$FL_LOG'"
check log_url_masked grep -q 'redis=redis://:\*\*\*@127.0.0.1' "$FL_LOG"
stop_pid "$FL_PID"

# wrong password: logged, retried, forwarding unaffected, records counted as dropped
mk "redis://:wrong@127.0.0.1:$RP"
start_fl "$TT/p.ini" || { fail start2 "faultline did not start"; exit 1; }
ok=0
for i in 1 2 3 4 5; do "$TBIN/flpeer" echo "127.0.0.1:$LP" 1000 | grep -q match=yes && ok=$((ok + 1)); done
check forwards_with_wrong_password [ "$ok" = 5 ]
wait_for 5 grep -q 'event=record_setup_failed' "$FL_LOG"
check log_auth_failed grep -q 'event=record_setup_failed.*command=AUTH' "$FL_LOG"
check nothing_written [ "$(RC -n 0 --raw exists fl:run:auth-1:meta:a1)" = 0 ]
stop_pid "$FL_PID"
check dropped_reported_at_stop grep -q 'event=recorded run=auth-1 instance=a1 dropped=[1-9]' "$FL_LOG"

# a TCP Redis that is not there: forwarding goes on
DEAD=$(free_port)
mk "redis://127.0.0.1:$DEAD"
start_fl "$TT/p.ini" || { fail start3 "faultline did not start"; exit 1; }
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 5000)
check forwards_tcp_redis_down [ "$(kv "$out" match)" = yes ]
check log_unavailable_tcp grep -q 'event=record_unavailable' "$FL_LOG"
stop_pid "$FL_PID"
done_tests
