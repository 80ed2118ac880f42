#!/usr/bin/env bash
# Redis faults never stop forwarding (issue 23): with leased faults on 5 instances, the fleet's
# Redis is SIGSTOPped (slow: answers nothing), then killed; traffic flows through every proxy
# the whole time, the leased faults end on their own at expiry, /fleet/instances answers 503 at
# once (never hangs the admin API), and when Redis is started again every instance reconnects
# and registers itself again without being touched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
fleet_start 5 || { fail start "the fleet did not come up"; exit 1; }
none_has() { local i; for i in 1 2 3 4 5; do grep -qw "$1" <<<"$(faults_of $i)" && return 1; done; return 0; }
all_have() { local i; for i in 1 2 3 4 5; do grep -qw "$1" <<<"$(faults_of $i)" || return 1; done; }
# every proxy forwards (one echo each, bounded)
all_flow() { local i ms; for i in 1 2 3 4 5; do ms=$(echo_ms $i); [ -n "$ms" ] || return 1; within "$ms" 0 "${1:-2000}" || return 1; done; }

out=$(fleet_ctl add lag type=latency proxy=db delay=200ms --lease 4s 2>&1)
check leased_applied grep -q '^add: 5 of 5 applied' <<<"$out"
check fault_acts within "$(echo_ms 2)" 180 3000

# --- Redis stopped (slow: connections open, no answers)
kill -STOP "$RPID"
t_stop=$(date +%s)
ok=1
for k in $(seq 1 6); do all_flow 3000 || ok=0; sleep 0.4; done
check flows_while_redis_stopped [ $ok = 1 ]
t0=$(date +%s%N)
CODE=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' "$(admin 1)/fleet/instances")
t1=$(date +%s%N)
check api_answers_while_redis_stopped [ "$CODE" = 503 ] || [ "$CODE" = 200 ] || [ "$CODE" = 504 ]
check api_does_not_hang within $(( (t1 - t0) / 1000000 )) 0 4500
wait_for 6 none_has lag
check lease_expired_with_redis_stopped none_has lag
check no_fault_after_expiry within "$(echo_ms 4)" 0 250
wait_for 8 grep -q 'event=fleet_unavailable' "$TT/fl3.log"
check outage_logged grep -q 'event=fleet_unavailable.*action=forwarding_continues_reconnecting' "$TT/fl3.log"

# --- Redis killed (connections refused)
kill -KILL "$RPID"
kill -CONT "$RPID" 2>/dev/null
wait "$RPID" 2>/dev/null
ok=1
for k in $(seq 1 5); do all_flow 2000 || ok=0; sleep 0.3; done
check flows_while_redis_dead [ $ok = 1 ]
CODE=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' "$(admin 2)/fleet/instances")
check api_503_while_redis_dead [ "$CODE" = 503 ]
CODE=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' -X POST "$(admin 2)/fleet/kill")
check kill_503_while_redis_dead [ "$CODE" = 503 ]
check stats_disconnected jqt '.fleet.connected == false' <<<"$(curl -s "$(admin 2)/stats")"
check metrics_disconnected grep -q '^faultline_fleet_connected 0$' <<<"$(curl -s "$(admin 2)/metrics")"

# --- Redis back (empty: it lost everything): every instance registers again by itself
fleet_redis_start || fail redis_restart "redis did not start again"
wait_for 15 eval '[ "$(n_up)" = 5 ]'
check reregistered_all [ "$(n_up)" = 5 ]
check reregistered_logged [ "$(grep -c 'event=fleet_registered' "$TT/fl5.log")" -ge 2 ]
check stats_connected jqt '.fleet.connected == true and .fleet.sessions >= 2' <<<"$(curl -s "$(admin 5)/stats")"
# and takes commands again
out=$(fleet_ctl add again type=latency proxy=db delay=10ms --lease 3s 2>&1)
check commands_after_restart grep -q '^add: 5 of 5 applied' <<<"$out"
check flows_at_end all_flow
done_tests
