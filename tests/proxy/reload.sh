#!/usr/bin/env bash
# SIGHUP: unchanged proxies keep their open connections, added proxies start, removed ones stop
# accepting (their open connections finish), a changed upstream takes effect for new
# connections; a bad profile is logged with PATH:LINE and the running one is kept.
. "$(dirname "$0")/../lib.sh"

start_peer ECHO 127.0.0.1:0 echo
start_peer SINK 127.0.0.1:0 sink
LA=$(free_port); LB=$(free_port); LC=$(free_port); LD=$(free_port)
v1() {
cat <<INI
[faultline]
admin = off
[proxy a]
listen = 127.0.0.1:$LA
upstream = 127.0.0.1:$ECHO
[proxy b]
listen = 127.0.0.1:$LB
upstream = 127.0.0.1:$ECHO
[proxy d]
listen = 127.0.0.1:$LD
upstream = 127.0.0.1:$ECHO
INI
}
v1 >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

# a line-echo exchange on a held connection: say WORD, expect WORD back
say() { local fd=$1 w=$2 line; printf '%s\n' "$w" >&"$fd" 2>/dev/null || return 1; IFS= read -r -t 3 line <&"$fd" || return 1; [ "$line" = "$w" ]; }
exec {HA}<>"/dev/tcp/127.0.0.1/$LA"
exec {HB}<>"/dev/tcp/127.0.0.1/$LB"
check held_a_before_reload say $HA one
check held_b_before_reload say $HB one

reloads() { grep -c 'event=reload ' "$FL_LOG"; }
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy a]
listen = 127.0.0.1:$LA
upstream = 127.0.0.1:$ECHO
[proxy c]
listen = 127.0.0.1:$LC
upstream = 127.0.0.1:$ECHO
[proxy d]
listen = 127.0.0.1:$LD
upstream = 127.0.0.1:$SINK
INI
kill -HUP "$FL_PID"
wait_for 5 test "$(reloads)" -ge 1
check reload_logged grep -q 'event=reload .*proxies=3' "$FL_LOG"
check held_a_survives_reload say $HA two
check held_b_removed_proxy_conn_finishes say $HB two
out=$("$TBIN/flpeer" call "127.0.0.1:$LB" 1000)
check removed_proxy_stops_accepting [ "$(kv "$out" result)" = refused ]
out=$("$TBIN/flpeer" echo "127.0.0.1:$LC" 10000)
check added_proxy_serves [ "$(kv "$out" match)" = yes ]
out=$("$TBIN/flpeer" echo "127.0.0.1:$LA" 10000)
check unchanged_proxy_serves [ "$(kv "$out" match)" = yes ]
out=$("$TBIN/flstream" send "127.0.0.1:$LD" 100)
check changed_upstream_for_new_conns grep -q "reply=\"OK 100 " <<<"$out"
exec {HB}>&-

# a bad profile: logged with PATH:LINE, the running profile stays in force
cp "$TT/p.ini" "$TT/good.ini"
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy a]
listen = 127.0.0.1:$LA
upstream = 127.0.0.1:$ECHO
[proxy b]
listen = 127.0.0.1:$LB
upstreem = 127.0.0.1:$ECHO
INI
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload_failed' "$FL_LOG"
check bad_reload_logged_with_line grep -q "event=reload_failed error=\"$TT/p.ini:8: unknown key 'upstreem' in \[proxy b\]\" action=kept_running_profile" "$FL_LOG"
check held_a_survives_bad_reload say $HA three
out=$("$TBIN/flpeer" echo "127.0.0.1:$LC" 1000)
check bad_reload_keeps_added_proxy [ "$(kv "$out" match)" = yes ]
out=$("$TBIN/flpeer" call "127.0.0.1:$LB" 1000)
check bad_reload_starts_nothing [ "$(kv "$out" result)" = refused ]

# a profile whose new listen address is taken: also refused as a whole
start_peer BUSY 127.0.0.1:0 hold
sed "s/^listen = 127.0.0.1:$LC/listen = 127.0.0.1:$BUSY/" "$TT/good.ini" >"$TT/p.ini"
n=$(grep -c 'event=reload_failed' "$FL_LOG")
kill -HUP "$FL_PID"
wait_for 5 test "$(grep -c 'event=reload_failed' "$FL_LOG")" -gt "$n"
check busy_port_reload_failed grep -q "event=reload_failed .*cannot listen on 127.0.0.1:$BUSY" "$FL_LOG"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LC" 1000)
check busy_port_reload_keeps_proxy [ "$(kv "$out" match)" = yes ]

# a rename keeps the address: the old proxy goes, the new one binds the same address
cp "$TT/good.ini" "$TT/p.ini"
sed -i 's/^\[proxy c\]/[proxy c2]/' "$TT/p.ini"
n=$(reloads)
kill -HUP "$FL_PID"
wait_for 5 test "$(reloads)" -gt "$n"
check rename_same_address_reloads [ "$(reloads)" -gt "$n" ]
out=$("$TBIN/flpeer" echo "127.0.0.1:$LC" 1000)
check renamed_proxy_serves [ "$(kv "$out" match)" = yes ]

# and back to a good profile: reloads work again
cp "$TT/good.ini" "$TT/p.ini"
n=$(reloads)
kill -HUP "$FL_PID"
wait_for 5 test "$(reloads)" -gt "$n"
check held_a_survives_all say $HA four
check still_running kill -0 "$FL_PID"
done_tests
