#!/usr/bin/env bash
# faultline ctl: every command against a running daemon, tables and --json, and the exit
# status contract (0 success, 1 server error with its message, 2 usage / no connection).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/p.ini" "admin_token = t0k" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
ctl() { "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" --token t0k "$@"; }

"$FL" ctl --help >"$TT/help" 2>&1
check help_exit_0 [ $? = 0 ]
check help_lists_commands grep -q 'add NAME key=value' "$TT/help"
"$FL" ctl >/dev/null 2>&1
check no_command_exit_2 [ $? = 2 ]
ctl frobnicate >/dev/null 2>&1
check unknown_command_exit_2 [ $? = 2 ]
ctl show >/dev/null 2>&1
check missing_argument_exit_2 [ $? = 2 ]
"$FL" ctl --admin "127.0.0.1:$(free_port)" list >/dev/null 2>"$TT/err"
check no_daemon_exit_2 [ $? = 2 ]
check no_daemon_says_why grep -q 'cannot reach the admin API' "$TT/err"
"$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" list >/dev/null 2>"$TT/err"
check no_token_exit_1 [ $? = 1 ]
check no_token_prints_server_error grep -q 'unauthorized.*HTTP 401' "$TT/err"
FAULTLINE_ADMIN="http://localhost:$ADMIN_PORT/" FAULTLINE_TOKEN=t0k "$FL" ctl list >/dev/null 2>&1
check env_admin_and_token [ $? = 0 ]

ctl add slow type=latency proxy=db delay=500ms ttl=1h >"$TT/out" 2>&1
check add_exit_0 [ $? = 0 ]
check add_says_added grep -q 'added fault slow (latency on proxy db, active)' "$TT/out"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check added_fault_acts within "$(kv "$out" ms)" 480 4000
ctl add slow type=latency proxy=db delay=5ms >/dev/null 2>"$TT/err"
check add_duplicate_exit_1 [ $? = 1 ]
check add_duplicate_message grep -q 'fault already exists: slow on proxy db (HTTP 409)' "$TT/err"
ctl add f2 type=latency proxy=db delay=soon >/dev/null 2>"$TT/err"
check add_bad_value_exit_1 [ $? = 1 ]
check add_bad_value_names_key grep -q '^faultline ctl: delay: ' "$TT/err"
ctl add f3 type=latency proxy=db delay >/dev/null 2>&1
check add_not_key_value_exit_2 [ $? = 2 ]

ctl list >"$TT/out" 2>&1
check list_exit_0 [ $? = 0 ]
check list_shows_proxy grep -qE "^db +127.0.0.1:$LP +127.0.0.1:$ECHO +tcp +yes" "$TT/out"
check list_shows_fault grep -qE '^slow +db +latency +downstream +1 +active +api +[0-9]+ +delay=500ms ttl=1h' "$TT/out"
ctl --json list >"$TT/out" 2>&1
check list_json jqf '(.faults | length) == 1 and .proxies.db.mode == "tcp"' "$TT/out"
ctl show slow >"$TT/out" 2>&1
check show_exit_0 [ $? = 0 ]
check show_attributes grep -q '  delay = 500ms' "$TT/out"
ctl --json show slow >"$TT/out" 2>&1
check show_json jqf '.attributes.ttl == "1h"' "$TT/out"
ctl show nope >/dev/null 2>"$TT/err"
check show_unknown_exit_1 [ $? = 1 ]
check show_unknown_404 grep -q 'HTTP 404' "$TT/err"
ctl stats >"$TT/out" 2>&1
check stats_exit_0 [ $? = 0 ]
check stats_table grep -qE '^db +[0-9]+ +[1-9][0-9]* ' "$TT/out"
check stats_faults grep -qE '^slow +db +latency +active ' "$TT/out"
ctl --json stats >"$TT/out" 2>&1
check stats_json jqf '.proxies.db.accepted >= 1' "$TT/out"

ctl kill >"$TT/out" 2>&1
check kill_exit_0 [ $? = 0 ]
check kill_says grep -q 'stopped 1 active fault' "$TT/out"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check killed_fault_stops within "$(kv "$out" ms)" 0 400
ctl rm slow >"$TT/out" 2>&1
check rm_exit_0 [ $? = 0 ]
ctl rm slow >/dev/null 2>&1
check rm_unknown_exit_1 [ $? = 1 ]

cat >"$TT/load.ini" <<INI
[proxy db]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$ECHO
[fault loaded]
type = latency
proxy = db
delay = 450ms
INI
ctl load "$TT/load.ini" >"$TT/out" 2>&1
check load_exit_0 [ $? = 0 ]
check load_says grep -q 'proxies and 1 faults in force' "$TT/out"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check loaded_fault_acts within "$(kv "$out" ms)" 430 4000
printf '[fault x]\ntype = latency\n' >"$TT/bad.ini"
ctl load "$TT/bad.ini" >/dev/null 2>"$TT/err"
check load_bad_exit_2 [ $? = 2 ]       # checked here first: nothing sent
check load_bad_has_line grep -q 'bad.ini:1: \[fault x\] .proxy. is required' "$TT/err"
ctl load "$TT/missing.ini" >/dev/null 2>&1
check load_missing_file_exit_2 [ $? = 2 ]
# refused by the daemon (valid here): FILE:LINE of the key it names, not the route or HTTP
BUSY=$(free_port)
python3 -c "import socket, time; s = socket.socket(); s.bind(('127.0.0.1', $BUSY)); s.listen(); time.sleep(60)" &
_PIDS+=($!)
wait_for 10 bash -c "grep -qi ':$(printf %04X "$BUSY") ' /proc/net/tcp"
printf '[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n\n[proxy two]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' \
    "$LP" "$ECHO" "$BUSY" "$ECHO" >"$TT/busy.ini"
ctl load "$TT/busy.ini" >/dev/null 2>"$TT/err"
check load_refused_exit_1 [ $? = 1 ]
check load_refused_file_line grep -q "^faultline ctl: $TT/busy.ini:6: \[proxy two\] cannot listen on 127.0.0.1:$BUSY: " "$TT/err"
check load_refused_no_route bash -c "! grep -q 'POST /profile\|HTTP 500' '$TT/err'"
printf '# far away\n[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 10.9.9.9:80\n' "$LP" >"$TT/far.ini"
ctl load "$TT/far.ini" >/dev/null 2>"$TT/err"
check load_forbidden_exit_1 [ $? = 1 ]
check load_forbidden_file_line grep -q "^faultline ctl: $TT/far.ini:4: forbidden by api_upstream_allow: upstream 10.9.9.9:80 is not allowed" "$TT/err"
check load_forbidden_no_route bash -c "! grep -q 'POST /profile\|HTTP 403\|line 2)' '$TT/err'"
ctl --json list >"$TT/out" 2>&1
check load_refused_changes_nothing jqf '(.proxies | keys) == ["db"] and .proxies.db.upstream == "127.0.0.1:'"$ECHO"'"' "$TT/out"

# add without a name: the missing field is named, nothing is sent
ctl add type=latency proxy=db delay=1ms >/dev/null 2>"$TT/err"
check add_no_name_exit_2 [ $? = 2 ]
check add_no_name_says grep -q "missing the fault's NAME: 'type=latency' is a key=value" "$TT/err"
ctl add >/dev/null 2>"$TT/err"
check add_nothing_exit_2 [ $? = 2 ]
check add_nothing_says grep -q "missing the fault's NAME" "$TT/err"
ctl add f4 proxy=db delay=1ms >/dev/null 2>"$TT/err"
check add_no_type_exit_2 [ $? = 2 ]
check add_no_type_names_it grep -q "add f4: missing type=" "$TT/err"
ctl add f5 type=latency delay=1ms >/dev/null 2>"$TT/err"
check add_no_proxy_names_it grep -q "add f5: missing proxy=" "$TT/err"

# proxies: list, add, disable, enable, rm -- each seen by a real client
check help_lists_proxy_commands grep -q 'proxy add NAME listen=ADDR upstream=ADDR' "$TT/help"
LQ=$(free_port)
ctl proxy add web listen=127.0.0.1:$LQ upstream=127.0.0.1:$ECHO >"$TT/out" 2>&1
check proxy_add_exit_0 [ $? = 0 ]
check proxy_add_says grep -q "added proxy web: 127.0.0.1:$LQ -> 127.0.0.1:$ECHO (tcp, enabled)" "$TT/out"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LQ" 100)
check proxy_added_serves [ "$(kv "$out" match)" = yes ]
ctl proxy list >"$TT/out" 2>&1
check proxy_list grep -qE "^web +127.0.0.1:$LQ +127.0.0.1:$ECHO +tcp +yes" "$TT/out"
ctl --json proxy list >"$TT/out" 2>&1
check proxy_list_json jqf '.web.enabled == true and .db.mode == "tcp"' "$TT/out"
ctl proxy disable web >"$TT/out" 2>&1
check proxy_disable_exit_0 [ $? = 0 ]
out=$("$TBIN/flpeer" call "127.0.0.1:$LQ" 1000)
check proxy_disabled_refuses [ "$(kv "$out" result)" = refused ]
ctl proxy enable web >/dev/null 2>&1
out=$("$TBIN/flpeer" echo "127.0.0.1:$LQ" 100)
check proxy_enabled_serves [ "$(kv "$out" match)" = yes ]
ctl proxy add web listen=127.0.0.1:0 upstream=127.0.0.1:$ECHO >/dev/null 2>"$TT/err"
check proxy_add_duplicate_exit_1 [ $? = 1 ]
ctl proxy add w2 listen=127.0.0.1:0 upstrem=127.0.0.1:1 >/dev/null 2>"$TT/err"
check proxy_add_bad_key_exit_2 [ $? = 2 ]
check proxy_add_bad_key_says grep -q "'upstrem=127.0.0.1:1' is not one of listen=, upstream=, mode=, enabled=" "$TT/err"
ctl proxy rm web >"$TT/out" 2>&1
check proxy_rm_exit_0 [ $? = 0 ]
out=$("$TBIN/flpeer" call "127.0.0.1:$LQ" 1000)
check proxy_removed_refuses [ "$(kv "$out" result)" = refused ]
ctl proxy rm web >/dev/null 2>&1
check proxy_rm_unknown_exit_1 [ $? = 1 ]
ctl proxy frob >/dev/null 2>&1
check proxy_bad_subcommand_exit_2 [ $? = 2 ]
done_tests
