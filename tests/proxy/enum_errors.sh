#!/usr/bin/env bash
# Every error about an enumerated value lists the valid values (issue 19, 3): the profile's keys
# (`faultline check`: mode, role, tls, log, log_format, direction, on_end, where, severity, at,
# close, trigger, type), an expectation's `check`, and the admin API's (toxic type, stream,
# mode) and ctl's (proxy add enabled=). Each case: the value given and every valid one appear.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

# enum NAME SECTION_TEXT VALID...: `faultline check` refuses the text, naming every valid value
enum() {
    local name=$1 text=$2 f="$TT/$1.ini" v missing=""
    shift 2
    printf '%s\n' "$text" >"$f"
    "$FL" check "$f" >/dev/null 2>"$TT/err"
    local rc=$? msg
    msg=$(head -n1 "$TT/err")
    for v in "$@"; do grep -qw -- "$v" <<<"$msg" || missing="$missing $v"; done
    if [ $rc = 2 ] && [ -z "$missing" ]; then pass "enum_$name"; else fail "enum_$name" "exit $rc, missing:$missing in: $msg"; fi
}
P='[proxy a]
listen = 127.0.0.1:1
upstream = 127.0.0.1:2'
PH="$P
mode = http"
PG='[proxy a]
listen = 127.0.0.1:1
upstream = 127.0.0.1:2
mode = postgres'
F='[fault f]
proxy = a'

enum mode "$P
mode = htp" tcp http postgres redis
enum role "$PH
role = both" egress ingress
enum tls "$PG
tls = maybe" refuse passthrough
enum log "[faultline]
log = loud" debug info warn error
enum log_format "[faultline]
log_format = xml" logfmt json
enum direction "$P
$F
type = latency
delay = 1ms
direction = sideways" upstream downstream both
enum on_end "$P
$F
type = hang
on_end = later" keep release reset
enum where "$PH
$F
type = latency
delay = 1ms
where = body" request response
enum severity "$PG
$F
type = pg_error
sqlstate = 40001
severity = PANIC" ERROR FATAL
enum pg_at "$PG
$F
type = pg_error
sqlstate = 40001
at = bind" query startup
enum pg_close "$PG
$F
type = pg_drop
close = half" fin rst
enum trigger "$P
$F
type = reset
trigger = accept" connect data
enum type "$P
$F
type = lag" latency hang reset drop refuse blackhole slow_close limit_data bandwidth slicer timeout
enum check "$P
[expect e]
check = timout
proxy = a
within = 1s" timeout pool recovery breaker retries bulkhead postgres probe slo graceful

# the admin API and ctl
start_peer ECHO 127.0.0.1:0 echo
api_profile "$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
req POST /proxies "{\"name\":\"e\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$ECHO\",\"mode\":\"htp\"}"
expect api_mode 400 '(.error | contains("tcp, http, postgres, redis, http2, grpc or forward"))'
req POST /proxies "{\"name\":\"e\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$ECHO\"}"
req POST /proxies/e/toxics '{"type":"lag"}'
expect api_toxic_type 400 '[("latency","bandwidth","slow_close","timeout","reset_peer","slicer","limit_data","hang","drop") as $t | .error | contains(" " + $t)] | all'
req POST /proxies/e/toxics '{"type":"latency","stream":"sideways"}'
expect api_stream 400 '(.error | contains("upstream or downstream"))'
req POST /faults '{"name":"x","type":"latency","proxy":"e","delay":"1ms","direction":"sideways"}'
expect api_direction 400 '(.error | contains("upstream, downstream or both"))'
"$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" proxy add w listen=127.0.0.1:0 upstream=127.0.0.1:$ECHO enabled=maybe \
    >/dev/null 2>"$TT/err"
check ctl_enabled_exit_2 [ $? = 2 ]
check ctl_enabled_lists grep -q "enabled: 'maybe' is not yes or no" "$TT/err"
done_tests
