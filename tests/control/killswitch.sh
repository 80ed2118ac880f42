#!/usr/bin/env bash
# The kill switch, seen and undone (issue 19, 2): after POST /kill (or ctl kill, SIGUSR1) a
# Toxiproxy client's GET /proxies shows its toxics killed, /healthz, /stats, /metrics and
# `ctl list` say so; adding the toxic again replaces the killed one (not 409); POST /resume and
# `ctl enable` arm every killed fault again, `ctl enable NAME` one; Toxiproxy's POST /reset
# removes them. Each step is observed on a real connection through an echo upstream.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
api_profile "$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
ctl() { "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" "$@"; }
req POST /proxies "{\"name\":\"pay\",\"listen\":\"localhost:0\",\"upstream\":\"127.0.0.1:$ECHO\"}"
LP=$(jget .listen | sed 's/.*://')
# slow / fast: one exchange on a fresh connection, its ms (bounds wide: a shared machine)
ms() { kv "$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)" ms; }
slow() { within "$(ms)" 500 5000; }
fast() { within "$(ms)" 0 579; }   # under the 600 ms toxic: a delayed exchange is never faster

req POST /proxies/pay/toxics '{"name":"lag","type":"latency","attributes":{"latency":600}}'
expect toxic_added 200 '.state == "active"'
check toxic_acts slow

# --- killed: shown everywhere
req POST /kill
expect kill_200 200 '.killed == 1'
check killed_acts_no_more fast
req GET /proxies
expect toxiproxy_shows_killed 200 '.pay.toxics[0].name == "lag" and .pay.toxics[0].state == "killed"'
req GET /proxies/pay/toxics/lag
expect toxic_shows_killed 200 '.state == "killed"'
req GET /healthz
expect healthz_killed 200 '.killed == 1'
req GET /stats
expect stats_killed 200 '.killed == 1 and .proxies.pay.faults.lag.state == "killed"'
curl -s -m 10 "$A/metrics" >"$TT/metrics"
check metrics_killed grep -qE '^faultline_fault_killed\{proxy="pay",fault="lag",type="latency"\} 1$' "$TT/metrics"
check metrics_killed_help grep -q '^# HELP faultline_fault_killed ' "$TT/metrics"
ctl list >"$TT/out" 2>&1
check ctl_list_state grep -qE '^lag +pay +latency .* killed ' "$TT/out"
check ctl_list_kill_switch grep -q 'kill switch: 1 fault(s) killed.*ctl enable' "$TT/out"

# --- the same toxic again: replaces the killed one
req POST /proxies/pay/toxics '{"name":"lag","type":"latency","attributes":{"latency":600}}'
expect readd_killed_toxic_200 200 '.name == "lag" and .state == "active"'
req GET /proxies/pay/toxics
expect readd_one_toxic 200 'length == 1'
check readded_toxic_acts slow
req POST /proxies/pay/toxics '{"name":"lag","type":"latency","attributes":{"latency":600}}'
expect readd_live_toxic_409 409 '.error == "toxic already exists"'

# --- POST /resume
req POST /kill
check killed_again fast
req GET /resume
expect resume_get_405 405
req POST /resume
expect resume_200 200 '.resumed == 1 and .killed == 0'
check resumed_acts slow
req GET /healthz
expect healthz_after_resume 200 '.killed == 0'
req POST /resume
expect resume_nothing 200 '.resumed == 0'

# --- ctl kill / ctl enable, and SIGUSR1 / ctl enable NAME
ctl kill >"$TT/out" 2>&1
check ctl_kill_says_resume grep -q 'ctl enable resumes' "$TT/out"
check ctl_killed fast
ctl enable >"$TT/out" 2>&1
check ctl_enable_exit_0 [ $? = 0 ]
check ctl_enable_says grep -q 'resumed 1 killed fault' "$TT/out"
check ctl_enabled_acts slow
kill -USR1 "$FL_PID"
wait_for 5 bash -c "curl -s '$A/healthz' | grep -q '\"killed\":1'"
check sigusr1_killed fast
ctl enable lag >"$TT/out" 2>&1
check ctl_enable_name grep -q 'enabled fault lag on proxy pay (active)' "$TT/out"
check ctl_enable_name_acts slow
ctl disable lag >"$TT/out" 2>&1
check ctl_disable_name grep -q 'disabled fault lag on proxy pay (disabled)' "$TT/out"
check ctl_disabled fast
ctl enable lag >/dev/null 2>&1

# --- native: a killed fault created again is replaced
req POST /faults '{"name":"stall","type":"latency","proxy":"pay","delay":"50ms"}'
req POST /kill
req POST /faults '{"name":"stall","type":"latency","proxy":"pay","delay":"50ms"}'
expect native_readd_killed_201 201 '.state == "active"'
req GET /faults
expect native_readd_listed_once 200 '[.[] | select(.name == "stall")] | length == 1'

# --- Toxiproxy's POST /reset: every fault removed, killed ones too
req POST /kill
req POST /reset
expect reset_204 204
req GET /proxies
expect reset_removed_killed 200 '.pay.toxics == [] and .pay.enabled == true'
req GET /healthz
expect reset_healthz 200 '.killed == 0 and .faults == 0'
check reset_fast fast
done_tests
