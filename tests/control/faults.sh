#!/usr/bin/env bash
# faultline's own API: /faults CRUD (validated exactly like profiles, errors naming the field),
# PATCH acting live, POST /profile, /stats, /metrics (Prometheus text), /healthz, /kill, ttl
# expiry, max_fault_duration, 405/413, a bad request changing nothing; a profile with no proxy
# at all; proxies and faults made through the API surviving a SIGHUP reload.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
check serve_with_only_faultline_section grep -q 'event=started .*proxies=0' "$FL_LOG"
req GET /healthz
expect healthz 200 '.status == "ok" and .proxies == 0 and .faults == 0'

req POST /proxies "{\"name\":\"db\",\"listen\":\"127.0.0.1:$LP\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect proxy_for_faults 201

# --- create
req POST /faults '{"name":"slow","type":"latency","proxy":"db","delay":"600ms","probability":1}'
expect fault_create_201 201 '.name == "slow" and .type == "latency" and .state == "active" and .source == "api" and .attributes.delay == "600ms" and .attributes.probability == "1"'
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check fault_acts within "$(kv "$out" ms)" 580 4000
req POST /faults '{"name":"slow","type":"latency","proxy":"db","delay":"1ms"}'
expect fault_duplicate_409 409 '.status == 409 and (.error | contains("slow"))'
req POST /faults '{"name":"f2","type":"latency","proxy":"db","delay":"fast"}'
expect fault_bad_value_400_names_key 400 '(.error | startswith("delay:")) and .status == 400'
req POST /faults '{"name":"f2","type":"latency","proxy":"db","delay":100}'
expect fault_bare_number_duration_400 400 '(.error | startswith("delay:"))'
req POST /faults '{"name":"f2","type":"latency","proxy":"db","dealy":"1ms"}'
expect fault_unknown_key_400 400 '(.error | contains("dealy"))'
req POST /faults '{"name":"f2","type":"teleport","proxy":"db"}'
expect fault_unknown_type_400 400 '(.error | startswith("type:"))'
req POST /faults '{"name":"f2","type":"latency","proxy":"nope","delay":"1ms"}'
expect fault_unknown_proxy_400 400 '(.error | startswith("proxy:"))'
req POST /faults '{"type":"latency","proxy":"db"}'
expect fault_missing_name_400 400 '(.error | contains("name"))'
req POST /faults '{"name":"f2","type":"latency","proxy":"db","delay":{"x":1}}'
expect fault_object_value_400 400 '(.error | startswith("delay:"))'
req POST /faults '{"name":"f2", "type":'
expect fault_bad_json_400 400 '(.error | startswith("bad request body"))'
req POST /faults '[1,2]'
expect fault_not_object_400 400
req GET /faults
expect bad_requests_changed_nothing 200 'length == 1 and .[0].name == "slow"'

# --- read, patch (live), delete
req GET /faults/slow
expect fault_show 200 '.spec.delay == "600ms" and .counters.conns_affected >= 1'
exec {H}<>"/dev/tcp/127.0.0.1/$LP"
exchange $H slow1
check live_conn_slow_before_patch within "$EX_MS" 580 4000
req PATCH /faults/slow '{"delay":"30ms"}'
expect fault_patch_200 200 '.attributes.delay == "30ms" and .spec.type == "latency"'
exchange $H fast1
check patch_acts_on_open_conn within "$EX_MS" 20 450
req PATCH /faults/slow '{"jitter":"1s"}'
expect fault_patch_invalid_400 400 '(.error | startswith("jitter:"))'
req GET /faults/slow
expect fault_patch_invalid_changed_nothing 200 '.attributes.delay == "30ms" and .attributes.jitter == "0"'
req PATCH /faults/slow '{"name":"other"}'
expect fault_patch_rename_400 400
req PATCH /faults/slow '{"jitter":"10ms","probability":null}'
expect fault_patch_null_removes_key 200 '.attributes.jitter == "10ms" and (.spec | has("probability") | not)'
req PATCH /faults/nope '{}'
expect fault_patch_404 404
req GET /faults/nope
expect fault_show_404 404 '.status == 404'
req PUT /faults/slow '{}'
expect fault_put_405 405
req DELETE /faults
expect faults_delete_405 405
req DELETE /faults/slow
expect fault_delete_204 204
exchange $H fast2
check conn_fast_after_delete [ "$EX_MS" -lt 400 ]
req DELETE /faults/slow
expect fault_delete_404 404

# --- ttl, kill
req POST /faults '{"name":"brief","type":"latency","proxy":"db","delay":"300ms","ttl":"1s"}'
expect ttl_fault_created 201 '.attributes.ttl == "1s"'
wait_for 5 grep -q 'event=fault_expired fault=brief .*reason=ttl' "$FL_LOG" || grep -E 'brief|api' "$FL_LOG" | sed 's/^/# /'
req GET /faults/brief
expect ttl_fault_removed 404
exchange $H afterttl
check conn_fast_after_ttl [ "$EX_MS" -lt 250 ]

req POST /faults '{"name":"k1","type":"latency","proxy":"db","delay":"700ms"}'
req POST /faults '{"name":"k2","type":"hang","proxy":"db","direction":"upstream","start":"1h"}'
exchange $H prekill
check slow_before_kill within "$EX_MS" 680 4000
req GET /kill
expect kill_get_405 405
req POST /kill
expect kill_200 200 '.killed == 1 and .faults == 2'
exchange $H postkill
check kill_stops_faults_on_open_conn [ "$EX_MS" -lt 400 ]
req GET /faults
expect killed_faults_listed 200 '[.[] | .state] == ["killed","killed"]'
req DELETE /faults/k1
req DELETE /faults/k2

# --- stats and metrics
req POST /faults '{"name":"m1","type":"latency","proxy":"db","delay":"1ms"}'
"$TBIN/flpeer" echo "127.0.0.1:$LP" 5000 >/dev/null
req GET /stats
expect stats_200 200 '.proxies.db.accepted >= 3 and .proxies.db.bytes_up >= 5000 and .proxies.db.bytes_down >= 5000 and .proxies.db.faults.m1.conns_affected >= 1 and (.uptime_s > 0)'
CODE=$(curl -s -m 10 -o "$TT/metrics" -D "$TT/mh" -w '%{http_code}' "$A/metrics")
check metrics_200 [ "$CODE" = 200 ]
check metrics_content_type grep -qi '^content-type: text/plain; version=0.0.4' "$TT/mh"
check metrics_connections grep -qE '^faultline_connections_total\{proxy="db"\} [0-9]+$' "$TT/metrics"
check metrics_bytes grep -qE '^faultline_bytes_total\{proxy="db",direction="upstream"\} [0-9]+$' "$TT/metrics"
check metrics_status grep -qE '^faultline_http_responses_total\{proxy="db",status="5xx"\} 0$' "$TT/metrics"
check metrics_fault_applied grep -qE '^faultline_fault_applied_total\{proxy="db",fault="m1",type="latency"\} [1-9][0-9]*$' "$TT/metrics"
# HELP texts say what is counted: the refused counter counts a refuse fault's refusals (SYNs
# seen), never a disabled proxy's
check metrics_refused_help grep -q '^# HELP faultline_connections_refused_total Connection attempts refused while a refuse fault held the listener closed.*disabled proxy.s refusals are not counted' "$TT/metrics"
check metrics_fault_refused_help grep -q '^# HELP faultline_fault_refused_total Connection attempts (SYNs) refused while this refuse fault' "$TT/metrics"
# exposition format: every sample's metric has one HELP and one TYPE before it; no duplicates
fmt=$(awk '
  /^# HELP / { if (help[$3]++) { print "dup HELP " $3; bad=1 } next }
  /^# TYPE / { if (type[$3]++) { print "dup TYPE " $3; bad=1 }
               if ($4 != "counter" && $4 != "gauge") { print "bad type " $0; bad=1 } next }
  /^#/ { next }
  NF == 0 { next }
  { name=$1; sub(/\{.*/, "", name)
    if (!(name in type) || !(name in help)) { print "no TYPE/HELP for " name; bad=1 }
    if ($NF !~ /^-?[0-9.e+]+$/) { print "bad value " $0; bad=1 }
    if (type[name] && name ~ /_total$/ && t[name] == "") t[name]=1 }
  END { exit bad }' "$TT/metrics")
check metrics_exposition_format [ $? -eq 0 ] 
[ -n "$fmt" ] && echo "# $fmt"
check metrics_counters_named_total bash -c "! grep '^# TYPE .* counter' '$TT/metrics' | grep -v '_total counter'"

# --- POST /profile
cat >"$TT/load.ini" <<INI
[faultline]
admin = 127.0.0.1:1
[proxy extra]
listen = 127.0.0.1:$(free_port)
upstream = 127.0.0.1:$ECHO
[fault pf]
type = latency
proxy = extra
delay = 5ms
INI
req POST /profile "$(cat "$TT/load.ini")"
expect profile_post_200 200 '.profile_proxies == 1 and .profile_faults == 1'
req GET /faults/pf
expect profile_fault_present 200 '.source == "profile"'
req GET /proxies
expect api_proxy_survives_profile_post 200 '(keys | sort) == ["db","extra"]'
req GET /faults/m1
expect api_fault_survives_profile_post 200
req POST /profile "$(printf '[proxy bad]\nlisten = 127.0.0.1:1\n')"
expect profile_bad_400_with_line 400 '(.error | test("POST /profile:1: .*upstream"))'
req GET /faults/pf
expect bad_profile_changed_nothing 200
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload ' "$FL_LOG"
req GET /proxies
expect api_proxy_survives_sighup 200 '(keys | sort) == ["db"]'
req GET /faults/m1
expect api_fault_survives_sighup 200 '.source == "api"'

# --- limits and errors
head -c $((1024 * 1024 + 10)) /dev/zero | tr '\0' 'a' >"$TT/big"
CODE=$(curl -s -m 10 -o "$TT/resp" -w '%{http_code}' -X POST --data-binary @"$TT/big" "$A/faults")
check body_over_1MiB_413 [ "$CODE" = 413 ]
check body_413_json jqf ".status == 413" "$TT/resp"
head -c $((5 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$TT/huge"
CODE=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST --data-binary @"$TT/huge" "$A/faults")
check body_over_4MiB_413 [ "$CODE" = 413 ]
CODE=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -A 'Mozilla/5.0' "$A/faults")
check browser_user_agent_403 [ "$CODE" = 403 ]
req GET /healthz
expect still_healthy_after_errors 200 '.faults == 1'
exec {H}>&-
stop_pid "$FL_PID"

# --- max_fault_duration caps every fault, API ones included (a second daemon, cap 1s)
api_profile "$TT/cap.ini" "max_fault_duration = 1s" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/cap.ini" || { fail start_cap "faultline did not start"; exit 1; }
req POST /faults '{"name":"capped","type":"latency","proxy":"db","delay":"1ms","direction":"upstream"}'
expect capped_fault_created 201
req GET /faults/capped
expect capped_fault_there_before_cap 200
wait_for 6 grep -q 'event=fault_expired fault=capped .*reason=max_fault_duration' "$FL_LOG"
req GET /faults/capped
expect max_fault_duration_removes_api_fault 404
done_tests
