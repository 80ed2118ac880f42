#!/usr/bin/env bash
# Start and stop: a port already in use (exit 2, nothing started), SIGTERM drain (in-flight work
# finishes within `drain`, what is left after it is closed, exit 0), SIGINT, --help on each
# subcommand, version.
. "$(dirname "$0")/../lib.sh"

start_peer HTTP 127.0.0.1:0 http
start_peer ECHO 127.0.0.1:0 echo
start_peer BUSY 127.0.0.1:0 hold

# ---- a listen address in use: clear error, exit 2, the other listener is not left open
LP=$(free_port)
cat >"$TT/busy.ini" <<INI
[faultline]
admin = off
[proxy free]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$ECHO
[proxy taken]
listen = 127.0.0.1:$BUSY
upstream = 127.0.0.1:$ECHO
INI
timeout 10 "$FL" serve "$TT/busy.ini" >"$TT/busy.out" 2>"$TT/busy.err"
rc=$?
check port_in_use_exit_2 [ $rc = 2 ]
check port_in_use_message grep -q "cannot listen on 127.0.0.1:$BUSY: Address already in use" "$TT/busy.err"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 500)
check port_in_use_nothing_left_listening [ "$(kv "$out" result)" = refused ]

# ---- SIGTERM while a request is in flight: it completes, new connections are refused, exit 0
LP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
drain = 4s
[proxy web]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$HTTP
INI
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
curl -sS -m 10 -o "$TT/body" -w '%{http_code}' "http://127.0.0.1:$LP/sleep/1200" >"$TT/code" 2>"$TT/curl.err" &
CURL=$!
sleep 0.4
t0=$(date +%s.%N)
kill -TERM "$FL_PID"
wait_for 2 grep -q 'event=stopping' "$FL_LOG"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 500)
check drain_refuses_new_connections [ "$(kv "$out" result)" = refused ]
wait "$CURL"
check drain_inflight_request_completes [ "$(cat "$TT/code")" = 200 -a "$(cat "$TT/body")" = hello ]
wait_for 6 sh -c "! kill -0 $FL_PID 2>/dev/null"
wait "$FL_PID"; rc=$?
t1=$(date +%s.%N)
check drain_exit_0 [ $rc = 0 ]
# it left as soon as the last connection ended, well before the 4 s drain
check drain_exit_when_idle within "$(awk -v a="$t0" -v b="$t1" "BEGIN{print b-a}")" 0.5 3
check drain_logged grep -q 'event=stopped exit=0' "$FL_LOG"

# ---- SIGTERM with an idle connection that never ends: closed after drain (1 s), exit 0
sed -i 's/^drain = .*/drain = 1s/' "$TT/p.ini"
sed -i "s/^upstream = .*/upstream = 127.0.0.1:$ECHO/" "$TT/p.ini"
start_fl "$TT/p.ini" || { fail start2 "faultline did not start"; exit 1; }
exec {H}<>"/dev/tcp/127.0.0.1/$LP"
printf 'hi\n' >&$H; IFS= read -r -t 3 line <&$H
check held_conn_works [ "$line" = hi ]
t0=$(date +%s.%N)
kill -TERM "$FL_PID"
# the held connection still works during the drain
sleep 0.3
printf 'during\n' >&$H; IFS= read -r -t 3 line <&$H
check held_conn_works_during_drain [ "$line" = during ]
wait_for 5 sh -c "! kill -0 $FL_PID 2>/dev/null"
wait "$FL_PID"; rc=$?
t1=$(date +%s.%N)
check drain_timeout_exit_0 [ $rc = 0 ]
check drain_timeout_after_drain within "$(awk -v a="$t0" -v b="$t1" "BEGIN{print b-a}")" 0.9 2.5
IFS= read -r -t 2 line <&$H; r=$?
check drain_timeout_conn_closed [ $r -ne 0 -a $r -lt 128 ]
check drain_timeout_logged grep -q 'event=drain_timeout closing=1' "$FL_LOG"
exec {H}>&-

# ---- SIGINT behaves like SIGTERM
start_fl "$TT/p.ini" || { fail start3 "faultline did not start"; exit 1; }
kill -INT "$FL_PID"
wait_for 5 sh -c "! kill -0 $FL_PID 2>/dev/null"
wait "$FL_PID"; rc=$?
check sigint_exit_0 [ $rc = 0 ]

# ---- serve raises its descriptor soft limit to the hard limit
( ulimit -Sn 100; exec "$FL" serve "$TT/p.ini" ) 2>"$TT/nofile.log" &
NF=$!; _PIDS+=($NF)
wait_port "$LP" 10
hard=$(awk '/^Max open files/ {print $5}' "/proc/$NF/limits")
soft=$(awk '/^Max open files/ {print $4}' "/proc/$NF/limits")
check nofile_soft_raised_to_hard [ "$soft" = "$hard" -a "$soft" != 100 ]
stop_pid "$NF"

# ---- --help and version
for c in "" serve check version; do
    out=$("$FL" $c --help 2>&1); rc=$?
    check "help_${c:-main}_exit_0" [ $rc = 0 ]
    check "help_${c:-main}_usage" grep -q "usage: faultline" <<<"$out"
done
out=$("$FL" version); rc=$?
check version_exit_0 [ $rc = 0 ]
check version_prints grep -q '^faultline [0-9]' <<<"$out"
"$FL" >/dev/null 2>&1; check no_command_exit_2 [ $? = 2 ]
"$FL" serve >/dev/null 2>&1; check serve_no_profile_exit_2 [ $? = 2 ]
"$FL" frobnicate >/dev/null 2>&1; check unknown_command_exit_2 [ $? = 2 ]
"$FL" serve "$TT/nonexistent.ini" 2>"$TT/ne.err"; rc=$?
check missing_profile_exit_2 [ $rc = 2 ]
check missing_profile_message grep -q "nonexistent.ini: cannot open" "$TT/ne.err"
done_tests
