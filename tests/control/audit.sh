#!/usr/bin/env bash
# The audit log (issue 23): every change through the admin API -- faultline's face, the
# Toxiproxy face, ctl, POST /profile, a runner driving the daemon -- is one entry naming who (the
# token's name, admin_token_name), what (method, path, fault and type), when and where (the
# instance, the client's address): one escaped log line, an entry of the run's stream
# fl:run:<run>:audit (with the run's TTL), GET /audit; and the reports show the list (verify's
# table and JSON, run's report.html; run --admin also posts its verdicts to /verdicts). The
# token and a password in a posted profile appear nowhere; a refused (401) request is not an
# entry; a name with a newline stays one line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
start_redis
RUN=audit-run-$RANDOM
LP=$(free_port)
TOK=tok-$RANDOM$RANDOM
api_profile "$TT/p.ini" "admin_token = $TOK" "admin_token_name = alice" "redis = $REDIS_URL" "run = $RUN" \
    "instance = inst-a" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
CURL_AUTH=(-H "Authorization: Bearer $TOK")

req POST /faults '{"name":"lat","type":"latency","proxy":"db","delay":"5ms"}'
expect api_add_201 201
req PATCH /faults/db/lat '{"delay":"6ms"}'
expect api_patch_200 200
req POST /proxies/db/toxics '{"type":"latency","attributes":{"latency":5}}'
expect toxi_add_200 200
FAULTLINE_ADMIN_TOKEN=$TOK "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" add ctl-slow proxy=db type=latency delay=1ms >/dev/null
check ctl_add_ok [ $? = 0 ]
req DELETE /faults/db/lat
expect api_delete_204 204
req POST /kill
expect kill_200 200
req POST /resume
expect resume_200 200
printf '[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n; redis = redis://:hunter2pw@10.0.0.1:6379\n' "$LP" "$ECHO" >"$TT/post.ini"
CODE=$(curl -s -m 10 -o "$TT/resp" -w '%{http_code}' "${CURL_AUTH[@]}" --data-binary @"$TT/post.ini" "$A/profile")
check profile_post_200 [ "$CODE" = 200 ]
req POST /faults $'{"name":"two\\nlines","type":"latency","proxy":"db","delay":"1ms"}'
NEWLINE_CODE=$CODE
CODE=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer wrong' "$A/kill")
check bad_token_401 [ "$CODE" = 401 ]

req GET /audit
expect audit_get_200 200
echo "$RESP" >"$TT/audit.json"
N=$(jq '.entries | length' "$TT/audit.json")
check audit_has_every_change [ "$N" = 9 ]
check audit_total_counts [ "$(jq .total "$TT/audit.json")" = 9 ]
check audit_who_is_token_name jqf '[.entries[].who] | all(. == "alice")' "$TT/audit.json"
check audit_via_api jqf '.entries[0] | .via == "api" and .what == "POST /faults fault=lat type=latency proxy=db" and .status == 201' "$TT/audit.json"
check audit_patch_names_fault jqf '.entries[1] | .method == "PATCH" and .fault == "lat" and (.what | test("proxy=db"))' "$TT/audit.json"
check audit_via_toxiproxy jqf '.entries[2] | .via == "toxiproxy" and .type == "latency" and (.what | test("proxy=db"))' "$TT/audit.json"
check audit_via_ctl jqf '.entries[3] | .via == "ctl" and .fault == "ctl-slow"' "$TT/audit.json"
check audit_kill_resume jqf '[.entries[5].path, .entries[6].path] == ["/kill", "/resume"]' "$TT/audit.json"
check audit_profile jqf '.entries[7].path == "/profile" and .entries[7].status == 200' "$TT/audit.json"
check audit_where jqf '[.entries[] | .inst == "inst-a" and (.remote | test("^127\\.0\\.0\\.1:[0-9]+$"))] | all' "$TT/audit.json"
check audit_when jqf "[.entries[].at_ms] | all(. > $(( ($(date +%s) - 120) * 1000 )))" "$TT/audit.json"
check audit_newline_one_line jqf ".entries[8] | .fault == \"two?lines\" and .status == $NEWLINE_CODE" "$TT/audit.json"
req GET '/audit?n=2'
expect audit_n_2 200 '(.entries | length) == 2 and .entries[1].fault == "two?lines"'
req GET '/audit?n=x'
expect audit_n_bad_400 400
req POST /audit
expect audit_post_405 405

# (the refused POST /audit, 405, is an entry too: an authenticated attempt)
check log_line_per_change [ "$(grep -c 'event=audit ' "$FL_LOG")" = 10 ]
check log_line_ctl grep -q 'event=audit who=alice via=ctl what="POST /faults fault=ctl-slow type=latency proxy=db" status=201 inst=inst-a remote=127.0.0.1:' "$FL_LOG"
wait_for 5 bash -c "[ \"\$(redis-cli -s '$REDIS_SOCK' XLEN fl:run:$RUN:audit)\" = 10 ]"
check redis_stream_has_every_change [ "$(redis-cli -s "$REDIS_SOCK" XLEN "fl:run:$RUN:audit")" = 10 ]
redis-cli -s "$REDIS_SOCK" XRANGE "fl:run:$RUN:audit" - + >"$TT/stream.txt"
check redis_entry_fields bash -c "grep -qx alice '$TT/stream.txt' && grep -qx inst-a '$TT/stream.txt' && grep -qx 'POST /kill' '$TT/stream.txt'"
TTL=$(redis-cli -s "$REDIS_SOCK" TTL "fl:run:$RUN:audit")
check redis_stream_expires [ "$TTL" -gt 0 ]
for where in "$TT/audit.json" "$TT/stream.txt"; do
    check "no_token_in_$(basename "$where")" bash -c "! grep -q '$TOK' '$where'"
    check "no_password_in_$(basename "$where")" bash -c "! grep -q hunter2pw '$where'"
done
check no_token_in_log bash -c "! grep -q '$TOK' '$FL_LOG'"
check no_password_in_log bash -c "! grep 'event=audit' '$FL_LOG' | grep -q hunter2pw"

# verify's report shows the list (table and JSON); it changes no verdict
cat >"$TT/e.ini" <<INI
[expect db-slo]
check = slo
proxy = db
INI
"$FL" verify "$TT/e.ini" --run "$RUN" --redis "$REDIS_URL" --live --json "$TT/v.json" >"$TT/v.out" 2>&1
check verify_prints_audit grep -q '^audit: 10 change(s) to the daemons during the run' "$TT/v.out"
check verify_audit_line grep -Eq '^  [0-9:]{8} UTC  alice +ctl +POST /faults fault=ctl-slow type=latency proxy=db -> 201  \(inst-a from 127\.0\.0\.1:' "$TT/v.out"
check verify_json_audit jqf '(.audit | length) == 10 and .audit[5].what == "POST /kill"' "$TT/v.json"
# nothing to judge (a scenario without [expect]): the list is still shown
printf '[faultline]\nlog = info\n' >"$TT/none.ini"
"$FL" verify "$TT/none.ini" --run "$RUN" --redis "$REDIS_URL" --live >"$TT/v0.out" 2>&1
check verify_no_expect_prints_audit grep -q '^audit: 10 change(s) to the daemons during the run' "$TT/v0.out"

# a runner driving this daemon: its own changes are entries (via run), its report.html lists
# them, and its verdicts reach /verdicts for the console
cat >"$TT/s.ini" <<INI
[scenario]
name = audited
load = sleep 3
[proxy db]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$ECHO
[fault run-lat]
proxy = db
type = latency
delay = 1ms
[phase baseline]
duration = 1s
[phase inject]
duration = 1s
faults = run-lat
[expect db-slo]
check = slo
proxy = db
INI
"$FL" run "$TT/s.ini" --admin "127.0.0.1:$ADMIN_PORT" --token "$TOK" --redis "$REDIS_URL" --run "$RUN" --out "$TT/out" >"$TT/run.out" 2>&1
check run_audit_via_run grep -q 'event=audit who=alice via=run what="POST /faults fault=run-lat' "$FL_LOG"
check run_report_has_audit bash -c "grep -q '<h2>Audit</h2>' '$TT/out/report.html' && grep -q 'fault=run-lat' '$TT/out/report.html'"
check run_prints_audit grep -q '^audit: ' "$TT/run.out"
req GET /verdicts
expect run_posted_verdicts 200 ".run == \"$RUN\" and .verdicts[0].name == \"db-slo\" and .verdicts[0].verdict == \"INCONCLUSIVE\""
req DELETE /verdicts
expect verdicts_deleted 204
req GET /verdicts
expect verdicts_gone_404 404
done_tests
