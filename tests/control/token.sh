#!/usr/bin/env bash
# The admin token kept out of `ps` and the profile (issue 20): admin_token_file (refused when
# other users may read it; read again after a SIGHUP reload) and FAULTLINE_ADMIN_TOKEN, which
# `faultline ctl` reads too. See docs/security.md and docs/profiles.md.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
code_with() { curl -s -m 5 -o "$TT/r" -w '%{http_code}' ${1:+-H "Authorization: Bearer $1"} "$A/faults"; }

# 1. admin_token_file, mode 0600
printf 'f1le-t0ken\n' >"$TT/token"
chmod 600 "$TT/token"
api_profile "$TT/f.ini" "admin_token_file = $TT/token" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/f.ini" || { fail start_file "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
check token_file_no_token_401 [ "$(code_with)" = 401 ]
check token_file_wrong_401 [ "$(code_with nope)" = 401 ]
check token_file_right_200 [ "$(code_with f1le-t0ken)" = 200 ]
check token_file_says_bearer grep -q 'event=admin_listening .*auth=bearer' "$FL_LOG"
check token_not_in_cmdline bash -c "! tr '\0' ' ' </proc/$FL_PID/cmdline | grep -q f1le-t0ken"
check token_not_in_profile bash -c "! grep -q f1le-t0ken '$TT/f.ini'"
# rotation: a new token, then SIGHUP
printf 'n3w-t0ken\n' >"$TT/token"
check rotation_needs_reload [ "$(code_with f1le-t0ken)" = 200 ]
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload ' "$FL_LOG"
check rotated_token_200 [ "$(code_with n3w-t0ken)" = 200 ]
check old_token_401_after_reload [ "$(code_with f1le-t0ken)" = 401 ]
check reload_logged grep -q 'event=admin_token_reloaded' "$FL_LOG"
# a file that turned world-readable is refused at reload; the token in force stays
chmod 644 "$TT/token"
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=admin_token_reload_failed' "$FL_LOG" || curl -s -m 2 -o /dev/null "$A/healthz"
wait_for 5 grep -q 'event=admin_token_reload_failed' "$FL_LOG"
check reload_refuses_readable_file grep -q 'admin_token_reload_failed.*readable or writable by other users' "$FL_LOG"
check token_kept_after_bad_reload [ "$(code_with n3w-t0ken)" = 200 ]
stop_pid "$FL_PID"

# 2. at start a file readable by others is an error (exit 2) that says what to do
"$FL" serve "$TT/f.ini" >/dev/null 2>"$TT/open.err" &
P=$!
wait_for 5 bash -c "! kill -0 $P 2>/dev/null"
wait "$P"; rc=$?
check readable_token_file_exit_2 [ "$rc" = 2 ]
check readable_token_file_says_chmod grep -q "admin_token_file: $TT/token is readable or writable by other users (mode 0644): chmod 600 it" "$TT/open.err"
printf '[faultline]\nadmin_token = a\nadmin_token_file = %s/token\n' "$TT" >"$TT/both.ini"
out=$("$FL" check "$TT/both.ini" 2>&1)
check token_and_token_file_conflict grep -q 'both.ini:3: admin_token_file: admin_token is set too' <<<"$out"

# 3. FAULTLINE_ADMIN_TOKEN, for the daemon and for ctl
ADMIN_PORT=$(free_port); A="http://127.0.0.1:$ADMIN_PORT"
api_profile "$TT/e.ini" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
FAULTLINE_ADMIN_TOKEN=env-t0ken start_api "$TT/e.ini" || { fail start_env "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
check env_token_no_token_401 [ "$(code_with)" = 401 ]
check env_token_right_200 [ "$(code_with env-t0ken)" = 200 ]
check env_token_not_in_cmdline bash -c "! tr '\0' ' ' </proc/$FL_PID/cmdline | grep -q env-t0ken"
check ctl_without_token_fails eval '! env -u FAULTLINE_ADMIN_TOKEN -u FAULTLINE_TOKEN "$FL" ctl --admin 127.0.0.1:$ADMIN_PORT list >/dev/null 2>&1'
check ctl_reads_env_token env FAULTLINE_ADMIN_TOKEN=env-t0ken "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" list
done_tests
