#!/usr/bin/env bash
# Redis away: at start (the proxy forwards, recording begins once Redis appears), killed mid-run
# and restarted on the same socket (forwarding never stops, record_dropped > 0 is reported in the
# counters and the log, recording resumes and the counters advance again), and stalled (SIGSTOP:
# the watchdog gives up on it, forwarding goes on, recording resumes after SIGCONT).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
REDIS_SOCK="$TT/redis.sock"          # not started yet
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = unix:$REDIS_SOCK
run = outage
instance = o1
drain = 500ms
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start without redis"; exit 1; }
C=fl:run:outage:counters:echo:o1

# a client loop that runs through the whole test: one echo every 20 ms, bounded
"$TBIN/flpeer" echo "127.0.0.1:$LP" 100 >/dev/null || true
cat >"$TT/loop.sh" <<LOOP
for i in \$(seq 1 3000); do
    [ -e "$TT/stop" ] && break
    if "$TBIN/flpeer" echo "127.0.0.1:$LP" 200 2>/dev/null | grep -q match=yes; then echo ok; else echo FAIL; fi
    sleep 0.02
done >"$TT/loop.out"
LOOP
bash "$TT/loop.sh" &
LOOP_PID=$!
_PIDS+=($LOOP_PID)
wait_for 10 bash -c "[ \$(grep -c ok '$TT/loop.out') -ge 5 ]"
check forwards_without_redis [ "$(grep -c ok "$TT/loop.out")" -ge 5 ]
check log_unavailable grep -q 'event=record_unavailable' "$FL_LOG"

# Redis appears: recording begins (backoff is at most 5 s)
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
wait_for 10 bash -c "[ -n \"\$(redis-cli -s $REDIS_SOCK --raw hget $C accepted)\" ]"
check recording_begins [ -n "$(hget $C accepted)" ]
check log_connected grep -q 'event=record_connected' "$FL_LOG"
check dropped_while_absent ge "$(hget $C record_dropped)" 1

# kill -9 mid-run, wait, restart on the same socket
a1=$(hget $C accepted)
kill -KILL "$REDIS_PID"; wait "$REDIS_PID" 2>/dev/null
d_before=$(hget $C record_dropped)
sleep 1.5
fails_during=$(grep -c FAIL "$TT/loop.out")
start_redis || { fail redis_restart "redis-server did not restart"; exit 1; }
wait_for 10 bash -c "[ -n \"\$(redis-cli -s $REDIS_SOCK --raw hget $C accepted)\" ]"
a2=$(hget $C accepted)
check counters_back_after_restart [ -n "$a2" ]
check counters_advanced_over_outage [ "${a2:-0}" -gt "$a1" ]
check record_dropped_reported [ "$(hget $C record_dropped)" -gt "${d_before:-0}" ]
check log_dropped grep -q 'event=record_dropped dropped=' "$FL_LOG"
sleep 1.2
a3=$(hget $C accepted)
check counters_advance_again [ "${a3:-0}" -gt "${a2:-0}" ]
check events_resume [ "$(rcli xlen fl:run:outage:events:echo)" -ge 3 ]
check meta_rewritten [ -n "$(hget fl:run:outage:meta:o1 started_ms)" ]
check runs_rewritten [ -n "$(rcli zscore fl:runs outage)" ]
# series buckets from before the restart are sent again (the ring): the hash covers the outage
first=$(rcli --raw hkeys fl:run:outage:ts:echo:o1 | sort -n | head -n1)
check series_ring_resent [ $(( $(date +%s) - ${first:-0} )) -ge 4 ]

# stalled Redis (SIGSTOP): forwarding goes on, the watchdog reconnects after 5 s without answers
kill -STOP "$REDIS_PID"
sleep 6.5
kill -CONT "$REDIS_PID"
check log_stalled grep -q 'event=record_stalled' "$FL_LOG"
s1=$(hget $C accepted)
sleep 2.5
s2=$(hget $C accepted)
check resumes_after_stall [ "${s2:-0}" -gt "${s1:-0}" ]

touch "$TT/stop"
wait "$LOOP_PID" 2>/dev/null
okc=$(grep -c ok "$TT/loop.out"); failc=$(grep -c FAIL "$TT/loop.out")
check forwarding_never_failed [ "$failc" = 0 ]
check forwarding_during_outage [ "$okc" -ge 20 ]
echo "# loop: ok=$okc fail=$failc fails_during_kill=$fails_during"
stop_pid "$FL_PID"
check ended_after_outages [ -n "$(hget fl:run:outage:meta:o1 ended_ms)" ]
done_tests
