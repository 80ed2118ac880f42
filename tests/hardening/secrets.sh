#!/usr/bin/env bash
# Secrets never leave (issue 20, M1; docs/security.md "Secrets"): a distinctive secret planted in
# each place one can come from -- the admin token in a profile, the token file, the Redis
# password in a URL ([faultline] redis and --redis), a password on a `load =` command line and on
# an [action]'s `run =` -- and then the record (every key of both runs in Redis), record.json,
# journal.json, report.html, junit.xml, every log line and /metrics are searched for each. The
# fleet's Redis URL (the same password) and its HMAC key are planted too ([fleet], a controller's
# --redis): the fleet's keys in Redis, GET /fleet/instances and the controller's output are
# searched as well.
# Errors that quote a URL (a bad one, a wrong password) are searched too.
. "$(dirname "$0")/../lib.sh"

TOKF=tokfile-SECRET-A
PW=redispw-SECRET-B
TOKP=tokprof-SECRET-C
LOADPW=load-SECRET-D
ACTPW=action-SECRET-E
FLEETKEY=fleetkey-SECRET-H-0123456789

RP=$(free_port)
redis-server --port "$RP" --bind 127.0.0.1 --requirepass "$PW" --save '' --appendonly no --dir "$TT" \
    --daemonize no --loglevel warning >"$TT/redis.log" 2>&1 &
_PIDS+=($!)
rc() { redis-cli -h 127.0.0.1 -p "$RP" -a "$PW" --no-auth-warning "$@"; }
wait_for 10 rc ping >/dev/null 2>&1 || { fail redis_start "no redis-server"; exit 1; }
RURL="redis://:$PW@127.0.0.1:$RP"

start_peer UP 127.0.0.1:0 http
LP=$(free_port); AP=$(free_port); LP2=$(free_port); AP2=$(free_port)

# ---- 1. serve: the token file, the Redis password; traffic, API calls, /metrics, a reload ----
printf '%s\n' "$TOKF" >"$TT/token"
chmod 600 "$TT/token"
printf '%s\n' "$FLEETKEY" >"$TT/fleet.key"
chmod 600 "$TT/fleet.key"
cat >"$TT/serve.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
admin_token_file = $TT/token
redis = $RURL
run = sec-serve
record_interval = 200ms
log = debug
[proxy web]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
mode = http
[fleet]
redis = $RURL
key_file = $TT/fleet.key
id = sec1
INI
start_fl "$TT/serve.ini" "$TT/serve.log" || { fail serve_start "$(cat "$TT/serve.log")"; exit 1; }
wait_for 5 grep -q 'event=record_connected' "$TT/serve.log"
AUTH="Authorization: Bearer $TOKF"
for i in 1 2 3; do curl -s -m 3 -o /dev/null "http://127.0.0.1:$LP/p$i"; done
curl -s -m 3 -o /dev/null -H "$AUTH" -H 'Content-Type: application/json' \
    -d '{"name":"e1","proxy":"web","type":"http_error","status":"503"}' "http://127.0.0.1:$AP/faults"
curl -s -m 3 -o /dev/null "http://127.0.0.1:$LP/p4"
curl -s -m 3 -o "$TT/metrics.txt" -H "$AUTH" "http://127.0.0.1:$AP/metrics"
curl -s -m 3 -o "$TT/stats.json" -H "$AUTH" "http://127.0.0.1:$AP/stats"
# the fleet: a controller with the password on its command line lists and adds through Redis
fctl() { "$FL" ctl --fleet "$@" --redis "$RURL" --key-file "$TT/fleet.key"; }
wait_for 10 eval 'fctl list 2>/dev/null | grep -q "^sec1 .* up "'
fctl list >"$TT/fleet-ctl.out" 2>&1
fctl add fl1 type=latency proxy=web delay=1ms >>"$TT/fleet-ctl.out" 2>&1
"$FL" ctl --fleet list --redis "redis://:wrong-SECRET-I@127.0.0.1:$RP" --key-file "$TT/fleet.key" \
    >"$TT/fleet-wrong.out" 2>&1
curl -s -m 3 -o "$TT/fleet.json" -H "$AUTH" "http://127.0.0.1:$AP/fleet/instances"
# the fleet's keys while the instance is up (its inst key expires 5 s after it stops)
for k in $(rc --scan --pattern 'faultline:fleet:*'); do
    echo "== $k"
    case $(rc type "$k") in
    hash) rc hgetall "$k" ;; stream) rc xrange "$k" - + ;; zset) rc zrange "$k" 0 -1 withscores ;;
    list) rc lrange "$k" 0 -1 ;; string) rc get "$k" ;;
    esac
done >"$TT/fleet-dump.txt"
check fleet_dump_has_instance grep -q 'faultline:fleet:default:inst:sec1' "$TT/fleet-dump.txt"
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload ' "$TT/serve.log"
sleep 0.5
stop_pid "$FL_PID"
check serve_recorded [ "$(rc exists fl:run:sec-serve:instances)" = 1 ]
check metrics_fetched grep -q faultline_ "$TT/metrics.txt"
check fleet_listed grep -q '^sec1 .* up ' "$TT/fleet-ctl.out"
check fleet_add_applied grep -q '^add: 1 of 1 applied' "$TT/fleet-ctl.out"
check fleet_api_lists jq -e '.instances[0].id == "sec1"' "$TT/fleet.json"
check fleet_wrong_password_refused grep -q -i 'auth' "$TT/fleet-wrong.out"

# ---- 2. faultline run: a token in the file, the password in [faultline] redis and --redis, the
# load's and an action's command lines ----
cat >"$TT/s.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP2
admin_token = $TOKP
redis = $RURL
log = info
[scenario]
name = secrets stay home
load = env LOADPW=$LOADPW sleep 30
[proxy api]
listen = 127.0.0.1:$LP2
upstream = 127.0.0.1:$UP
mode = http
[fault slow]
proxy = api
type = latency
delay = 50ms
[phase calm]
duration = 1s
[phase slow]
duration = 1s
faults = slow
[action poke]
at = slow+200ms
run = env ACTPW=$ACTPW true
[expect answered]
check = timeout
proxy = api
within = 5s
INI
chmod 600 "$TT/s.ini"
OUT="$TT/out"
( for i in $(seq 1 20); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$LP2/x$i"; sleep 0.1; done ) &
CURLS=$!
"$FL" run "$TT/s.ini" --out "$OUT" --run sec-run --redis "$RURL" >"$TT/run.out" 2>"$TT/run.err"
echo "# run exit $?"
wait $CURLS
for f in record.json journal.json report.html junit.xml; do check "wrote_$f" test -s "$OUT/$f"; done
check run_recorded [ "$(rc exists fl:run:sec-run:instances)" = 1 ]
check journal_shows_program grep -q '"command": "env' "$OUT/journal.json"

# ---- 3. errors that quote a URL ----
printf '[faultline]\nredis = redis://:bad-SECRET-F@127.0.0.1:99999\n[proxy a]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:1\n' \
    "$(free_port)" >"$TT/bad.ini"
"$FL" serve "$TT/bad.ini" >"$TT/bad.log" 2>&1
check bad_url_refused grep -q "redis" "$TT/bad.log"
printf '[expect x]\ncheck = timeout\nproxy = api\nwithin = 1s\n' >"$TT/e.ini"
"$FL" verify "$TT/e.ini" --run sec-run --redis "redis://:wrong-SECRET-G@127.0.0.1:$RP" >"$TT/verify.log" 2>&1
check wrong_password_says_auth grep -q "AUTH failed" "$TT/verify.log"

# ---- the search ----
for run in sec-serve sec-run; do
    for k in $(rc --scan --pattern "fl:run:$run:*"); do
        echo "== $k"
        case $(rc type "$k") in
        hash) rc hgetall "$k" ;; stream) rc xrange "$k" - + ;; set) rc smembers "$k" ;;
        zset) rc zrange "$k" 0 -1 withscores ;; list) rc lrange "$k" 0 -1 ;; string) rc get "$k" ;;
        esac
    done
done >"$TT/redis-dump.txt"
rc zrange fl:runs 0 -1 >>"$TT/redis-dump.txt"
check redis_dump_has_profile grep -q 'admin_token = \*\*\*' "$TT/redis-dump.txt"
check redis_dump_has_masked_url grep -q "redis://:\*\*\*@127.0.0.1:$RP" "$TT/redis-dump.txt"
where() {   # where SECRET: the places it was found
    local s=$1 f
    for f in "$TT/redis-dump.txt" "$OUT/record.json" "$OUT/journal.json" "$OUT/report.html" "$OUT/junit.xml" \
             "$TT/serve.log" "$TT/run.out" "$TT/run.err" "$TT/bad.log" "$TT/verify.log" "$TT/metrics.txt" \
             "$TT/stats.json" "$TT/fleet-dump.txt" "$TT/fleet-ctl.out" "$TT/fleet-wrong.out" \
             "$TT/fleet.json" "$OUT"/*.log; do
        [ -f "$f" ] && grep -q -a -F -- "$s" "$f" && echo "${f#$TT/}"
    done
}
for s in "$TOKF" "$PW" "$TOKP" "$LOADPW" "$ACTPW" bad-SECRET-F wrong-SECRET-G "$FLEETKEY" wrong-SECRET-I SECRET; do
    found=$(where "$s" | tr '\n' ' ')
    if [ -z "$found" ]; then pass "no_${s//-/_}"; else fail "no_${s//-/_}" "found in: $found"; fi
done
done_tests
