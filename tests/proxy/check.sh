#!/usr/bin/env bash
# `faultline check` (and `serve`) on every profile error: exit 2 and "PATH:LINE: message naming
# the key", nothing started. Also a good profile passes, with the issue's inline comments.
. "$(dirname "$0")/../lib.sh"

# bad NAME LINE PATTERN  (profile text on stdin): check exits 2 with "FILE:LINE: " + PATTERN
bad() {
    local name=$1 line=$2 pat=$3 f="$TT/$1.ini"
    cat >"$f"
    "$FL" check "$f" >"$TT/out" 2>"$TT/err"
    local rc=$? msg
    msg=$(head -n1 "$TT/err")
    if [ $rc = 2 ] && [[ "$msg" == "$f:$line: "* ]] && grep -qE -- "$pat" <<<"$msg"; then
        pass "check_$name"
    else
        fail "check_$name" "exit $rc, message: $msg (wanted $f:$line: /$pat/)"
    fi
}
quiet() { "$@" >/dev/null 2>&1; }
G='[faultline]
admin = off'

bad unknown_section 3 'unknown section \[proxi web\]' <<INI
$G
[proxi web]
listen = 127.0.0.1:1
INI
bad unknown_key_proxy 6 "unknown key 'listne' in \[proxy web\]" <<INI
$G

[proxy web]
listen = 127.0.0.1:18080
listne = 127.0.0.1:18081
upstream = 127.0.0.1:8080
INI
bad unknown_key_global 2 "unknown key 'logg' in \[faultline\]" <<INI
[faultline]
logg = debug
INI
bad missing_listen 3 "\[proxy web\] is missing 'listen'" <<INI
$G
[proxy web]
upstream = 127.0.0.1:8080
INI
bad missing_upstream 3 "\[proxy web\] is missing 'upstream'" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
mode = tcp
INI
bad malformed_listen 5 "listen: '127.0.0.1' is not host:port" <<INI
$G
[proxy web]
upstream = 127.0.0.1:8080
listen = 127.0.0.1
INI
bad listen_port_range 4 "listen: '127.0.0.1:70000' has a bad port" <<INI
$G
[proxy web]
listen = 127.0.0.1:70000
upstream = 127.0.0.1:8080
INI
bad listen_name_not_allowed 4 "listen: 'localhost' is not an IP address" <<INI
$G
[proxy web]
listen = localhost:18080
upstream = 127.0.0.1:8080
INI
bad malformed_v6 5 "upstream: '\[::1\]8080' is not \[v6\]:port" <<INI
$G
[proxy web]
listen = [::1]:18080
upstream = [::1]8080
INI
bad malformed_upstream_name 5 "upstream: 'db internal' is not a valid host name" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = db internal:80
INI
bad malformed_unix 4 "listen: 'unix:' has no socket path" <<INI
$G
[proxy web]
listen = unix:
upstream = 127.0.0.1:8080
INI
bad malformed_size 3 "buffer: '64 apples' has an unknown unit" <<INI
[faultline]
admin = off
buffer = 64 apples
INI
bad size_not_a_number 2 "buffer: 'lots' is not a size" <<INI
[faultline]
buffer = lots
INI
bad size_out_of_range 2 "buffer: must be 4KiB..1GiB" <<INI
[faultline]
buffer = 1KiB
INI
bad duration_without_unit 4 "drain: '5' needs a unit" <<INI
[faultline]
admin = off

drain = 5
INI
bad malformed_duration 2 "drain: 'soon' is not a duration" <<INI
[faultline]
drain = soon
INI
bad duration_bad_unit 2 "max_fault_duration: '3 weeks' has an unknown unit" <<INI
[faultline]
max_fault_duration = 3 weeks
INI
bad record_interval_too_small 2 "record_interval: at least 100ms" <<INI
[faultline]
record_interval = 10ms
INI
bad bad_log_level 2 "log: 'loud' is not debug, info, warn or error" <<INI
[faultline]
log = loud
INI
bad bad_log_format 2 "log_format: 'xml' is not logfmt or json" <<INI
[faultline]
log_format = xml
INI
bad malformed_admin 2 "admin: " <<INI
[faultline]
admin = everywhere
INI
bad bad_mode 6 "mode: 'udp' is not tcp, http" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
mode = udp
INI
bad bad_bool 6 "enabled: 'maybe' is not yes or no" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
enabled = maybe
INI
bad bad_role 6 "role: 'sideways' is not egress or ingress" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
role = sideways
INI
bad same_listen_twice 10 "listen: 127.0.0.1:18080 is already the listen address of \[proxy one\]" <<INI
$G
[proxy one]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080

[proxy two]
upstream = 127.0.0.1:8081
; same address as [proxy one]
listen = 127.0.0.1:18080
INI
bad same_unix_listen_twice 8 "is already the listen address of \[proxy one\]" <<INI
$G
[proxy one]
listen = unix:/tmp/fl-x.sock
upstream = 127.0.0.1:8080
[proxy two]
upstream = 127.0.0.1:8081
listen = unix:/tmp/fl-x.sock
INI
bad duplicate_name 6 "\[proxy web\] is defined twice \(first at line 3\)" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
[proxy web]
listen = 127.0.0.1:18081
upstream = 127.0.0.1:8081
INI
bad probability_over_100_percent 9 "\\[fault f\\] probability: 150 is outside 0\\.\\.100 \\(a share between 0 and 1, or 0%\\.\\.100%\\)" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
[fault f]
proxy = web
type = latency
probability = 150%
INI
bad fault_key_twice 10 "\[fault slow\] delay: given twice \(a fault takes one value\)" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
[fault slow]
proxy = web
type = latency
delay = 100ms
delay = 2s
INI
bad proxy_without_name 3 "\[proxy\] needs a name" <<INI
$G
[proxy]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
INI
bad faultline_twice 6 "\[faultline\] appears twice" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
[faultline]
log = debug
INI
long=$(printf 'x%.0s' $(seq 1 220))
bad overlong_line 6 "line is longer than 199 characters" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
upstream = 127.0.0.1:8080
mode = $long
INI
# comments and indentation do not count against inih's line buffer
cat >"$TT/longcomment.ini" <<INI
; $long
[faultline]
admin = off ; $long
INI
check long_comments_are_fine quiet "$FL" check "$TT/longcomment.ini"
bad key_outside_section 2 "key 'listen' is outside any \[section\]" <<INI
; no section yet
listen = 127.0.0.1:18080
[faultline]
INI
bad syntax_error 5 "syntax error" <<INI
$G
[proxy web]
listen = 127.0.0.1:18080
this line has no equals sign
upstream = 127.0.0.1:8080
INI
bad unclosed_section 3 "syntax error" <<INI
$G
[proxy web
listen = 127.0.0.1:18080
INI

# the first error wins, at its own line
bad first_error_reported 5 "unknown key 'colour'" <<INI
$G
[proxy a]
listen = 127.0.0.1:18080
colour = blue
upstream = 127.0.0.1:8080
[proxy b]
listen = nowhere
INI

# a good profile (the issue's own example, inline comments and all) passes
cat >"$TT/good.ini" <<'INI'
; a comment line
# another comment style
[faultline]
admin = 127.0.0.1:8474      ; admin API address (later issue); "off" disables it
log = info                  ; debug | info | warn | error
log_format = logfmt         ; logfmt | json
buffer = 128KiB
drain = 2.5s

  [proxy payments]
  listen = 127.0.0.1:18080    ; host:port, [v6]:port, or unix:/path
  upstream = 127.0.0.1:8080   ; host:port, [v6]:port, DNS name, or unix:/path
  mode = tcp                  ; tcp | http
  enabled = yes

[proxy db]
listen = [::1]:15432
upstream = db.internal:5432
[proxy sock]
listen = unix:/tmp/faultline-test.sock
upstream = unix:/run/app.sock
INI
out=$("$FL" check "$TT/good.ini" 2>&1); rc=$?
check good_profile_exit_0 [ $rc = 0 ]
check good_profile_summary grep -q "ok (3 proxies, 0 faults)" <<<"$out"
printf '[faultline]\r\nadmin = off\r\n[proxy w]\r\nlisten = 127.0.0.1:18080\r\nupstream = 127.0.0.1:8080\r\n' >"$TT/crlf.ini"
out=$("$FL" check "$TT/crlf.ini" 2>&1); rc=$?
check crlf_profile_ok [ $rc = 0 ]
check shipped_passthrough_profile_ok quiet "$FL" check "$(dirname "$0")/../../profiles/passthrough.ini"

# serve reports the same error, exits 2, starts nothing
LP=$(free_port)
cat >"$TT/serve.ini" <<INI
$G
[proxy web]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:8080
mode = udp
INI
timeout 5 "$FL" serve "$TT/serve.ini" 2>"$TT/serve.err"; rc=$?
check serve_bad_profile_exit_2 [ $rc = 2 ]
check serve_bad_profile_message grep -q "^faultline: $TT/serve.ini:6: mode: 'udp'" "$TT/serve.err"
"$FL" check "$TT/nope.ini" 2>"$TT/err"; rc=$?
check check_missing_file_exit_2 [ $rc = 2 ]
done_tests
