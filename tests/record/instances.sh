#!/usr/bin/env bash
# Two faultline instances record one run (same run id, different instance names): both are
# listed, each writes its own counters and series, they share the events stream and R:faults,
# and merging them (sum) gives the whole traffic.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
for n in a b; do
    port=$(free_port)
    printf -v "LP_$n" '%s' "$port"
    cat >"$TT/$n.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = shared-run
instance = inst-$n
[proxy db]
listen = 127.0.0.1:$port
upstream = 127.0.0.1:$UP
[fault slow-$n]
proxy = db
type = latency
delay = 1ms
INI
    start_fl "$TT/$n.ini" || { fail "start_$n" "faultline $n did not start"; exit 1; }
    printf -v "PID_$n" '%s' "$FL_PID"
done
R=fl:run:shared-run
# wait for both readiness probes to be recorded
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK xlen $R:events:db)\" = 2 ]"
ta=0; tb=0
for i in $(seq 1 10); do
    "$TBIN/flpeer" echo "127.0.0.1:$LP_a" $((i * 100)) | grep -q match=yes && ta=$((ta + i * 100))
done
for i in $(seq 1 7); do
    "$TBIN/flpeer" echo "127.0.0.1:$LP_b" $((i * 1000)) | grep -q match=yes && tb=$((tb + i * 1000))
done
ready() { [ "$(hget $R:counters:db:inst-a accepted)" = 11 ] && [ "$(hget $R:counters:db:inst-b accepted)" = 8 ] &&
          [ "$(ts_sum $R:ts:db:inst-a new)" = 11 ] && [ "$(ts_sum $R:ts:db:inst-b new)" = 8 ] &&
          [ "$(hget $R:counters:db:inst-a bytes_down)" = "$ta" ] && [ "$(hget $R:counters:db:inst-b bytes_down)" = "$tb" ]; }
# (accepted is counted when a connection opens, bytes when it closes: a close the daemon reads
# after the client has gone reaches the counters a moment later, so wait for both)
wait_for 10 ready
check instances_both [ "$(rcli --raw smembers $R:instances | sort | tr '\n' ' ')" = "inst-a inst-b " ]
check meta_a [ "$(hget $R:meta:inst-a pid)" = "$PID_a" ]
check meta_b [ "$(hget $R:meta:inst-b pid)" = "$PID_b" ]
check counters_a [ "$(hget $R:counters:db:inst-a accepted)" = 11 ]
check counters_b [ "$(hget $R:counters:db:inst-b accepted)" = 8 ]
check bytes_a [ "$(hget $R:counters:db:inst-a bytes_up)" = "$ta" ]
check bytes_b [ "$(hget $R:counters:db:inst-b bytes_up)" = "$tb" ]
# merged, as every reader does: sum the instances
sum=0; bsum=0; nsum=0
for i in $(rcli --raw smembers $R:instances); do
    sum=$((sum + $(hget $R:counters:db:$i accepted)))
    bsum=$((bsum + $(hget $R:counters:db:$i bytes_down)))
    nsum=$((nsum + $(ts_sum $R:ts:db:$i new)))
done
check merged_accepted_19 [ "$sum" = 19 ]
check merged_bytes_down [ "$bsum" = $((ta + tb)) ]
check merged_series_new_19 [ "$nsum" = 19 ]
# merged by second: every second's "new" summed across instances
merged=$(for i in a b; do rcli --raw hgetall $R:ts:db:inst-$i | paste - - ; done |
         awk '{ for (k = 2; k <= NF; k++) if ($k ~ /^new=/) { sub("new=", "", $k); s[$1] += $k } }
              END { for (t in s) tot += s[t]; print tot + 0 }')
check merged_by_second_19 [ "$merged" = 19 ]
events "$R:events:db" >"$TT/ev"
check events_shared_stream_19 [ "$(wc -l <"$TT/ev")" = 19 ]
check events_a_11 [ "$(grep -c 'inst=inst-a ' "$TT/ev")" = 11 ]
check events_b_8 [ "$(grep -c 'inst=inst-b ' "$TT/ev")" = 8 ]
check events_fault_a [ "$(grep 'inst=inst-a ' "$TT/ev" | grep -c 'fault=slow-a')" = 11 ]
events "$R:faults" >"$TT/fw"
check faults_stream_both [ "$(grep -c 'event=start' "$TT/fw")" = 2 ]
check fault_hash_a [ "$(hget $R:fault:db:slow-a:inst-a type)" = latency ]
check fault_hash_b [ "$(hget $R:fault:db:slow-b:inst-b conns_affected)" = 8 ]
stop_pid "$PID_a"
check a_ended [ -n "$(hget $R:meta:inst-a ended_ms)" ]
check b_running [ -z "$(hget $R:meta:inst-b ended_ms)" ]
stop_pid "$PID_b"
check b_ended [ -n "$(hget $R:meta:inst-b ended_ms)" ]
done_tests
