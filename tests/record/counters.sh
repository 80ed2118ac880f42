#!/usr/bin/env bash
# The record's counters, per-second series, connection events and run metadata match the traffic
# the test generates exactly; the run id and instance defaults; bad redis URLs stop serve.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = cnt-1
instance = i1
retention = 1h
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
check recording_logged grep -q 'event=recording run=cnt-1 instance=i1' "$FL_LOG"

R=fl:run:cnt-1
# start_fl's readiness probe is a connection too: wait until it is recorded and count from there
wait_for 10 bash -c "[ \"\$(redis-cli -s $REDIS_SOCK --raw hget $R:counters:echo:i1 accepted)\" = 1 ] && [ \"\$(redis-cli -s $REDIS_SOCK xlen $R:events:echo)\" = 1 ]"
check probe_recorded [ "$(hget $R:counters:echo:i1 accepted)" = 1 ]
total=0
ok=0
for i in $(seq 1 25); do
    n=$((i * 397))
    out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" "$n")
    [ "$(kv "$out" match)" = yes ] && ok=$((ok + 1))
    total=$((total + n))
done
check traffic_ok [ "$ok" = 25 ]

ready() { [ "$(hget $R:counters:echo:i1 accepted)" = 26 ] && [ "$(ts_sum $R:ts:echo:i1 new)" = 26 ] &&
          [ "$(hget $R:counters:echo:i1 closed_client)" = 26 ] && [ "$(rcli xlen $R:events:echo)" = 26 ]; }
wait_for 10 ready
C=$R:counters:echo:i1
check counters_accepted_25 [ "$(hget $C accepted)" = 26 ]
check counters_upstream_ok_25 [ "$(hget $C upstream_ok)" = 26 ]
check counters_bytes_up_exact [ "$(hget $C bytes_up)" = "$total" ]
check counters_bytes_down_exact [ "$(hget $C bytes_down)" = "$total" ]
check counters_closed_client_25 [ "$(hget $C closed_client)" = 26 ]
check counters_record_dropped_0 [ "$(hget $C record_dropped)" = 0 ]
check counters_peak_active_1 [ "$(hget $C peak_active)" = 1 ]
check series_new_sum_25 [ "$(ts_sum $R:ts:echo:i1 new)" = 26 ]
check series_up_sum_exact [ "$(ts_sum $R:ts:echo:i1 up)" = "$total" ]
check series_down_sum_exact [ "$(ts_sum $R:ts:echo:i1 down)" = "$total" ]
check series_peak_1 [ "$(rcli --raw hvals $R:ts:echo:i1 | tr ' ' '\n' | sed -n 's/^peak=//p' | sort -n | tail -n1)" = 1 ]
check series_fields_are_seconds bash -c "[ -z \"\$(redis-cli -s $REDIS_SOCK --raw hkeys $R:ts:echo:i1 | grep -v '^1[0-9]\{9\}\$')\" ]"

events "$R:events:echo" | tail -n +2 >"$TT/ev"     # without the probe
check events_25 [ "$(wc -l <"$TT/ev")" = 25 ]
check events_kind_conn [ "$(grep -c ' kind=conn\|^kind=conn' "$TT/ev")" = 25 ]
check events_bytes_up_sum [ "$(sed -n 's/.* bytes_up=\([0-9]*\).*/\1/p' "$TT/ev" | awk '{s+=$1} END {print s}')" = "$total" ]
check events_bytes_down_sum [ "$(sed -n 's/.* bytes_down=\([0-9]*\).*/\1/p' "$TT/ev" | awk '{s+=$1} END {print s}')" = "$total" ]
check events_closed_by_client [ "$(grep -c 'closed_by=client' "$TT/ev")" = 25 ]
check events_inst [ "$(grep -c 'inst=i1 ' "$TT/ev")" = 25 ]
# times: wall ms with microsecond decimals, ordered open <= connected <= first_up <= last_up <= close
e1=$(tail -n1 "$TT/ev")
check events_time_format bash -c "echo '$(kv "$e1" open_ms)' | grep -qE '^1[0-9]{12}\.[0-9]{3}\$'"
check events_times_ordered awk -v o="$(kv "$e1" open_ms)" -v c="$(kv "$e1" connected_ms)" -v f="$(kv "$e1" first_up_ms)" \
    -v l="$(kv "$e1" last_up_ms)" -v d="$(kv "$e1" first_down_ms)" -v z="$(kv "$e1" close_ms)" \
    'BEGIN { exit !(o <= c && o <= f && f <= l && f <= d && l <= z && d <= z && z - o < 5000) }'
now_ms=$(date +%s%3N)
check events_time_is_now within "$(kv "$e1" open_ms)" $((now_ms - 60000)) $((now_ms + 1000))
check events_no_fault_fields bash -c "! grep -q 'hang_ms\|gave_up_ms\|fault=' '$TT/ev'"

check meta_started [ -n "$(hget $R:meta:i1 started_ms)" ]
check meta_profile bash -c "redis-cli -s $REDIS_SOCK --raw hget $R:meta:i1 profile | grep -q '^\[proxy echo\]'"
check meta_proxies [ "$(hget $R:meta:i1 proxies)" = echo ]
check meta_pid [ "$(hget $R:meta:i1 pid)" = "$FL_PID" ]
check instances_i1 [ "$(rcli --raw smembers $R:instances)" = i1 ]
check runs_index [ -n "$(rcli zscore fl:runs cnt-1)" ]
for k in $C $R:ts:echo:i1 $R:events:echo $R:meta:i1 $R:instances; do
    t=$(rcli ttl "$k")
    check "ttl_$(echo "$k" | tr ':' '_')" within "$t" 3000 3600
done
check meta_not_ended [ -z "$(hget $R:meta:i1 ended_ms)" ]
stop_pid "$FL_PID"
check meta_ended [ -n "$(hget $R:meta:i1 ended_ms)" ]
check log_recorded grep -q 'event=recorded run=cnt-1 instance=i1 dropped=0' "$FL_LOG"

# defaults: a generated run id, printed at start; instance = hostname-pid
cat >"$TT/g.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
[proxy echo]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/g.ini" || fail start2 "faultline did not start"
gen=$(sed -n 's/.*event=recording run=\([^ ]*\) .*/\1/p' "$FL_LOG")
check run_id_generated bash -c "echo '$gen' | grep -qE '^[0-9]{8}-[0-9]{6}-[0-9a-f]{4}\$'"
wait_for 5 bash -c "[ -n \"\$(redis-cli -s $REDIS_SOCK zscore fl:runs '$gen')\" ]"
check run_id_in_runs [ -n "$(rcli zscore fl:runs "$gen")" ]
check instance_default [ "$(rcli --raw smembers "fl:run:$gen:instances")" = "$(hostname)-$FL_PID" ]
stop_pid "$FL_PID"

# bad URLs: exit 2 with the reason, nothing starts
for bad in 'http://127.0.0.1:6379' 'redis://127.0.0.1:notaport' 'redis://127.0.0.1:6379/x' 'unix:' 'unix:/x.sock?dbase=1'; do
    sed "s|^redis = .*|redis = $bad|" "$TT/g.ini" >"$TT/bad.ini"
    "$FL" serve "$TT/bad.ini" >"$TT/bad.out" 2>&1
    rc=$?
    check "bad_url_exit2_$(echo "$bad" | tr -c 'a-z0-9\n' '_')" [ "$rc" = 2 ]
    check "bad_url_reason_$(echo "$bad" | tr -c 'a-z0-9\n' '_')" grep -q "redis: '$bad'" "$TT/bad.out"
done
done_tests
