#!/usr/bin/env bash
# A reload that recreates a proxy (new listen address, same name) or replaces a fault: the
# record's counters carry on from where they were (never backwards), the profile text in the run
# metadata follows the reload, and the replaced fault's window shows as end + start.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
P1=$(free_port); P2=$(free_port)
mk() {  # mk PORT DELAY
    cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = rl
instance = r1
[proxy echo]
listen = 127.0.0.1:$1
upstream = 127.0.0.1:$UP
[fault slow]
proxy = echo
type = latency
delay = $2
INI
}
mk "$P1" 1ms
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
C=fl:run:rl:counters:echo:r1
for i in 1 2 3 4 5; do "$TBIN/flpeer" echo "127.0.0.1:$P1" 1000 >/dev/null; done
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw hget $C accepted)\" = 6 ]"
check before_reload_6 [ "$(hget $C accepted)" = 6 ]
check fault_before [ "$(hget fl:run:rl:fault:echo:slow:r1 conns_affected)" = 6 ]

mk "$P2" 2ms
kill -HUP "$FL_PID"
wait_port "$P2" 10
for i in 1 2 3; do "$TBIN/flpeer" echo "127.0.0.1:$P2" 1000 >/dev/null; done
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw hget $C accepted)\" = 10 ]"
check after_reload_carries_on [ "$(hget $C accepted)" = 10 ]
check bytes_carry_on [ "$(hget $C bytes_up)" = 8000 ]
check series_new_sum_10 [ "$(ts_sum fl:run:rl:ts:echo:r1 new)" = 10 ]
check fault_carries_on [ "$(hget fl:run:rl:fault:echo:slow:r1 conns_affected)" = 10 ]
check meta_profile_reloaded bash -c "redis-cli -s $REDIS_SOCK --raw hget fl:run:rl:meta:r1 profile | grep -q 'delay = 2ms'"
events fl:run:rl:faults >"$TT/fw"
check fault_window_end_on_change [ "$(grep -c 'fault=slow .*event=end' "$TT/fw")" -ge 1 ]
check fault_window_start_twice [ "$(grep -c 'fault=slow .*event=start' "$TT/fw")" = 2 ]
stop_pid "$FL_PID"
check final_accepted_10 [ "$(hget $C accepted)" = 10 ]
done_tests
