#!/usr/bin/env bash
# The fleet's registry and selectors (issue 23): 5 daemons register with their labels; `ctl
# --fleet list` and GET /fleet/instances (the console's contract) list them; a selector picks
# by labels (zone=a: 3 of 5; zone!=a; version globs; id), and an add through it reaches exactly
# those; a stopped daemon is listed as gone; a daemon without [fleet] answers 404; `faultline
# check` refuses bad [fleet] values with FILE:LINE (exit 2).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
fleet_start 5 || { fail start "the fleet did not come up: $(cat "$TT"/fl*.log)"; exit 1; }
check five_up [ "$(n_up)" = 5 ]

fleet_ctl list >"$TT/list" 2>&1
check list_rows [ "$(grep -c '^inst[1-5] .* up ' "$TT/list")" = 5 ]
check list_labels grep -qE '^inst2 +up +service=checkout,zone=b,version=1.2 ' "$TT/list"
check list_summary grep -q '^5 up, 0 gone' "$TT/list"

# --- selectors: zone=a is inst1, inst3, inst5
fleet_ctl 'zone=a' --json list >"$TT/sel"
check sel_zone_a [ "$(jq -r '[.instances[].id] | sort | join(",")' "$TT/sel")" = "inst1,inst3,inst5" ]
fleet_ctl 'zone!=a' --json list >"$TT/sel"
check sel_zone_not_a [ "$(jq -r '[.instances[].id] | sort | join(",")' "$TT/sel")" = "inst2,inst4" ]
fleet_ctl 'service=checkout,version=1.[34]' --json list >"$TT/sel"
check sel_glob_and [ "$(jq -r '[.instances[].id] | sort | join(",")' "$TT/sel")" = "inst3,inst4" ]
fleet_ctl 'id=inst5' --json list >"$TT/sel"
check sel_id [ "$(jq -r '[.instances[].id] | join(",")' "$TT/sel")" = "inst5" ]
fleet_ctl 'service=nothing' --json list >"$TT/sel"
check sel_none [ "$(jq '.instances | length' "$TT/sel")" = 0 ]
fleet_ctl 'zone' list >"$TT/out" 2>&1
check sel_bad_is_usage [ $? -eq 2 ]

out=$(fleet_ctl 'zone=a' add lag type=latency proxy=db delay=300ms 2>&1)
rc=$?
check add_by_selector_ok [ $rc -eq 0 ]
check add_by_selector_3_of_3 grep -q 'add: 3 of 3 applied in [0-9]* ms' <<<"$out"
check add_reached_zone_a [ "$(faults_of 1)$(faults_of 3)$(faults_of 5)" = "laglaglag" ]
check add_spared_zone_b [ "$(faults_of 2)$(faults_of 4)" = "" ]
ms=$(echo_ms 1)
check fault_acts_on_inst1 within "${ms:-0}" 280 5000
ms=$(echo_ms 2)
check no_fault_on_inst2 within "${ms:-99999}" 0 279   # under the 300 ms delay: not there

# --- the console's contract: GET /fleet/instances (from any daemon)
CODE=$(curl -s -m 10 -o "$TT/inst" -w '%{http_code}' "$(admin 2)/fleet/instances")
check api_instances_200 [ "$CODE" = 200 ]
check api_instances_shape jqt '(.instances | length) == 5 and all(.instances[]; (.id | type) == "string" and (.labels | type) == "object"
    and (.state == "up") and (.last_seen_ms | type) == "number" and (.proxies == ["db"]) and (.faults | type) == "array")' "$TT/inst"
check api_instances_faults jqt '[.instances[] | select(.id == "inst3") | .faults[0]] | .[0] | .name == "lag" and .proxy == "db"
    and .type == "latency" and (.lease_left_ms | type) == "number" and .lease_left_ms > 0 and .lease_left_ms <= 15000' "$TT/inst"
check api_instances_labels jqt '[.instances[] | select(.id == "inst4")][0].labels == {"service":"checkout","zone":"b","version":"1.4"}' "$TT/inst"
CODE=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "$(admin 2)/fleet/instances")
check api_instances_post_405 [ "$CODE" = 405 ]

# --- gone: a stopped daemon stays listed as gone (its labels kept)
stop_pid "${FPID[4]}"
wait_for 10 eval '[ "$(n_up)" = 4 ]'
fleet_ctl --json list >"$TT/gone"
check gone_listed jqt '[.instances[] | select(.id == "inst4")][0] | .state == "gone" and .labels.zone == "b"' "$TT/gone"
fleet_ctl list >"$TT/list"
check gone_in_table grep -qE '^inst4 +gone .*last seen' "$TT/list"
curl -s -m 10 "$(admin 1)/fleet/instances" >"$TT/inst"
check api_gone jqt '[.instances[] | select(.state == "gone") | .id] == ["inst4"]' "$TT/inst"

# --- no [fleet]: 404
NP=$(free_port)
{ echo '[faultline]'; echo "admin = 127.0.0.1:$NP"; } >"$TT/nofleet.ini"
start_fl "$TT/nofleet.ini" "$TT/nofleet.log"
wait_port "$NP" 10
CODE=$(curl -s -m 10 -o "$TT/nf" -w '%{http_code}' "http://127.0.0.1:$NP/fleet/instances")
check no_fleet_404 [ "$CODE" = 404 ]
check no_fleet_error jqt '.error == "no fleet configured"' "$TT/nf"
CODE=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$NP/fleet/kill")
check no_fleet_kill_404 [ "$CODE" = 404 ]

# --- faultline check: bad [fleet] values, FILE:LINE, exit 2
bad() {  # bad NAME EXPECTED-TEXT LINES...
    local n=$1 want=$2; shift 2
    printf '[faultline]\n[fleet]\n' >"$TT/bad.ini"
    printf '%s\n' "$@" >>"$TT/bad.ini"
    "$FL" check "$TT/bad.ini" >"$TT/bad.out" 2>&1
    local rc=$?
    if [ $rc -eq 2 ] && grep -qF "$want" "$TT/bad.out"; then pass "$n"; else fail "$n" "rc=$rc: $(cat "$TT/bad.out")"; fi
}
cp "$KEY" "$TT/open.key"; chmod 644 "$TT/open.key"
head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n' | head -c 8 >"$TT/short.key"; chmod 600 "$TT/short.key"
bad check_key_world_readable "bad.ini:4: key_file: $TT/open.key: readable by group or others" "redis = $RURL" "key_file = $TT/open.key"
bad check_key_short "bad.ini:4: key_file: $TT/short.key: 8 bytes of key" "redis = $RURL" "key_file = $TT/short.key"
bad check_key_missing_file "bad.ini:4: key_file: $TT/none.key" "redis = $RURL" "key_file = $TT/none.key"
bad check_no_redis "bad.ini:2: [fleet] is missing 'redis'" "key_file = $KEY"
bad check_no_key "bad.ini:2: [fleet] is missing 'key_file'" "redis = $RURL"
bad check_bad_url "bad.ini:3: redis:" "redis = http://x" "key_file = $KEY"
bad check_rediss "bad.ini:3: redis: rediss://" "redis = rediss://h:1" "key_file = $KEY"
bad check_bad_label "bad.ini:5: zone: 'a b' is not a label value" "redis = $RURL" "key_file = $KEY" "zone = a b"
bad check_bad_label_key "bad.ini:5: label.a,b" "redis = $RURL" "key_file = $KEY" "label.a,b = x"
bad check_bad_id "bad.ini:5: id:" "redis = $RURL" "key_file = $KEY" "id = x y"
bad check_unknown_key "bad.ini:5: unknown key 'zones'" "redis = $RURL" "key_file = $KEY" "zones = a"
bad check_bad_max_lease "bad.ini:5: max_lease:" "redis = $RURL" "key_file = $KEY" "max_lease = soon"
printf '[faultline]\n[fleet]\nredis = %s\nkey_file = %s\nservice = x\nlabel.team = pay\n' "$RURL" "$KEY" >"$TT/good.ini"
check check_good "$FL" check "$TT/good.ini"
done_tests
