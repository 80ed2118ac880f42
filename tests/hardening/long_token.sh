#!/usr/bin/env bash
# A long admin token (issue 20, L2): `faultline ctl` and `faultline run --admin` refuse a token
# longer than the daemon could hold (255 bytes) -- from --token or the environment -- with a clear
# error and exit 2 before connecting, and refuse one with a CR/LF in it (it would inject a
# header). A 255-byte token works end to end. The daemon answers a 100 KiB Authorization header
# without crashing, and never lets it in. Under `make asan` any over-read on these paths fails.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
AP=$(free_port); LP=$(free_port)
T255=$(head -c 255 /dev/zero | tr '\0' 'k')
BIG=$(head -c 102400 /dev/zero | tr '\0' 'x')
cat >"$TT/d.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
[proxy a]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
FAULTLINE_ADMIN_TOKEN=$T255 start_fl "$TT/d.ini" "$TT/d.log" || { fail start "$(cat "$TT/d.log")"; exit 1; }
wait_port "$AP" 5

# ctl
"$FL" ctl --admin "127.0.0.1:$AP" --token "$T255" list >"$TT/o" 2>&1
check ctl_255_byte_token_works [ $? = 0 ]
"$FL" ctl --admin "127.0.0.1:$AP" --token "$BIG" list >"$TT/o" 2>&1
check ctl_100k_token_exit_2 [ $? = 2 ]
check ctl_100k_token_says_why grep -q 'faultline ctl: --token: the token is longer than 255 bytes' "$TT/o"
check ctl_error_quotes_no_token eval '! grep -q xxxxxxxxxx "$TT/o"'
FAULTLINE_ADMIN_TOKEN=$BIG "$FL" ctl --admin "127.0.0.1:$AP" list >"$TT/o" 2>&1
check ctl_env_100k_token_exit_2 [ $? = 2 ]
"$FL" ctl --admin "127.0.0.1:$AP" --token $'abc\r\nX-Injected: 1' list >"$TT/o" 2>&1
rc=$?
check ctl_crlf_token_refused eval '[ $rc = 2 ] && grep -q "space or a control byte" "$TT/o"'
check no_request_reached_the_daemon eval '[ "$(grep -c "event=api\|status=401" "$TT/d.log")" = 0 ]'

# run --admin (a Redis that works: only the token can stop it)
start_redis
cat >"$TT/s.ini" <<INI
[scenario]
name = long token
load = touch $TT/ran
[proxy a]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[phase one]
duration = 300ms
INI
chmod 600 "$TT/s.ini"
"$FL" run "$TT/s.ini" --admin "127.0.0.1:$AP" --token "$BIG" --redis "$REDIS_URL" --out "$TT/out" >"$TT/o" 2>&1
check run_100k_token_exit_2 [ $? = 2 ]
check run_100k_token_says_why grep -q 'faultline run: --token: the token is longer than 255 bytes' "$TT/o"
check run_nothing_started eval '[ ! -e "$TT/ran" ]'
FAULTLINE_ADMIN_TOKEN=$BIG "$FL" run "$TT/s.ini" --admin "127.0.0.1:$AP" --redis "$REDIS_URL" --out "$TT/out" >"$TT/o" 2>&1
check run_env_100k_token_exit_2 [ $? = 2 ]

# the daemon, sent a 100 KiB Authorization header (and one just past the token)
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $BIG" "http://127.0.0.1:$AP/faults")
check daemon_refuses_100k_header [ "$code" != 200 ]
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${T255}k" "http://127.0.0.1:$AP/faults")
check daemon_refuses_longer_token [ "$code" = 401 ]
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer ${T255%k}" "http://127.0.0.1:$AP/faults")
check daemon_refuses_shorter_token [ "$code" = 401 ]
check daemon_alive kill -0 "$FL_PID"
check daemon_still_answers [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $T255" "http://127.0.0.1:$AP/faults")" = 200 ]
done_tests
