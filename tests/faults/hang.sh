#!/usr/bin/env bash
# hang: data stops and is held, no CPU while held, the client's give-up is recorded; on_end
# keep / release / reset; a kept hang outlives the removal of its fault.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
start_peer SRC 127.0.0.1:0 source 1000000
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault h]' 'proxy = p' 'type = hang'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

# 1. held for 2.5 s, near-zero CPU, give-up recorded
t0=$(cpu_ticks "$FL_PID")
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 2500)
t1=$(cpu_ticks "$FL_PID")
echo "# held: $out cpu_ticks=$((t1 - t0))"
check hang_held_until_client_gives_up [ "$(kv "$out" result)" = timeout ]
check hang_no_cpu_while_held within $((t1 - t0)) 0 5
wait_for 3 grep -q 'event=close .*closed_by=client fault=h' "$FL_LOG"
check hang_give_up_recorded grep -q 'event=close .*closed_by=client fault=h' "$FL_LOG"
dur=$(grep 'event=close .*closed_by=client fault=h' "$FL_LOG" | tail -n1 | sed 's/.*duration_ms=\([0-9.]*\).*/\1/')
check hang_give_up_moment within "$dur" 2400 3200

# 2. after_bytes: exactly 5000 bytes pass, then nothing
fprofile "$TT/p.ini" "$SRC" "$LP" '[fault h]' 'proxy = p' 'type = hang' 'after_bytes = 5000'
reload || fail reload "no reload"
line=$(fault_line fault_removed h)
echo "# $line"
# (start_fl's port probe is a second abandoned connection)
check hang_counted_abandoned within "$(num "$line" abandoned)" 1 2
check hang_counted_held [ "$(kv "$line" bytes_held)" = 5 ]
out=$("$TBIN/faultc" reads "127.0.0.1:$LP" 800)
echo "# after_bytes: $out"
check hang_after_bytes_exact eval '[ "$(kv "$out" bytes)" = 5000 ] && [ "$(kv "$out" prefix)" = yes ] && [ "$(kv "$out" result)" = timeout ]'

# 3. on_end = keep (default): stays hung after the fault ends; new connections flow
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault h]' 'proxy = p' 'type = hang' 'duration = 1s'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 2000)
echo "# keep: $out"
check hang_keep_stays_hung [ "$(kv "$out" result)" = timeout ]
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
check hang_keep_new_conns_flow [ "$(kv "$out" result)" = data ]

# 4. on_end = release: held bytes delivered when the fault ends
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault h]' 'proxy = p' 'type = hang' 'duration = 1s' 'on_end = release'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 3000)
echo "# release: $out"
check hang_release_delivers [ "$(kv "$out" result)" = data ]
check hang_release_at_end within "$(num "$out" ms)" 200 1800   # window starts at the reload, the call some time after it

# 5. on_end = reset: RST both sides when the fault ends
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault h]' 'proxy = p' 'type = hang' 'duration = 1s' 'on_end = reset'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 3000)
echo "# reset: $out"
check hang_reset_econnreset [ "$(kv "$out" result)" = reset ]
check hang_reset_at_end within "$(num "$out" ms)" 200 1800

# 6. keep: a hung call stays hung when its fault is removed (reload), the next call flows
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault h]' 'proxy = p' 'type = hang'
reload || fail reload "no reload"
"$TBIN/flpeer" call "127.0.0.1:$LP" 2000 >"$TT/kept.out" &
CP=$!
sleep 0.5
fprofile "$TT/p.ini" "$ECHO" "$LP"
reload || fail reload "no reload"
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
check hang_removed_new_conns_flow [ "$(kv "$out" result)" = data ]
wait $CP
echo "# kept after removal: $(cat "$TT/kept.out")"
check hang_keep_survives_removal grep -q 'result=timeout' "$TT/kept.out"
done_tests
