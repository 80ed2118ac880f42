#!/usr/bin/env bash
# Protocol garbage from either side closes that connection (and only that one) and is counted;
# a pg_hang whose window ends with on_end = release lets the held query run; tls = passthrough
# forwards the SSLRequest and falls back to tcp.
cd "$(dirname "$0")/../.."
source tests/lib.sh
trap '' PIPE   # a write to a socket the proxy already closed must not end the script

start_postgres || { fail pg_start "postgres did not start"; done_tests; exit; }
start_peer SRC 127.0.0.1:0 source 4096 || { fail peer_start; done_tests; exit; }
P=$(free_port); G=$(free_port); T=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
[proxy db]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$PGPORT
mode = postgres
[proxy junk]
listen = 127.0.0.1:$G
upstream = 127.0.0.1:$SRC
mode = postgres
[proxy tls]
listen = 127.0.0.1:$T
upstream = 127.0.0.1:$PGPORT
mode = postgres
tls = passthrough
[fault stuck-1s]
proxy = db
type = pg_hang
match_query = stuck_me
duration = 3s
on_end = release
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
CI="host=127.0.0.1 port=$P user=postgres dbname=postgres application_name=garbage"
T0=$(date +%s%N)
"$TBIN/pgclient" "$CI" "q:select 'stuck_me'" >"$TT/stuck.out" 2>&1 &
SP=$!

# a long session stays up while garbage arrives on other connections
"$TBIN/pgclient" "$CI" "q:select 1" "sleep:1500" "q:select 2" >"$TT/long.out" 2>&1 &
LP=$!

# client garbage before the startup packet (an HTTP request)
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' >&3 2>/dev/null
r=$(timeout 3 cat <&3 | wc -c); rc=$?
exec 3>&-
check client_garbage_startup_closed test "$rc" = 0
# client garbage after a good startup: an unknown frontend message type
exec 3<>"/dev/tcp/127.0.0.1/$P"
printf '\x00\x00\x00\x17\x00\x03\x00\x00user\x00postgres\x00\x00' >&3 2>/dev/null
sleep 0.3
printf '\x01\x00\x00\x00\x04' >&3 2>/dev/null
timeout 3 cat <&3 >/dev/null; rc=$?
exec 3>&-
check client_garbage_type_closed test "$rc" = 0
wait_for 5 test "$(grep -c 'event=pg_garbage .*from=client' "$FL_LOG")" -ge 2
check client_garbage_counted test "$(grep -c 'event=pg_garbage .*from=client' "$FL_LOG")" -ge 2
check unknown_type_reason grep -q 'event=pg_garbage .*from=client reason="unknown frontend message type"' "$FL_LOG"

# server garbage: the upstream sends random bytes
out=$(timeout 10 psql -h 127.0.0.1 -p "$G" -U postgres -X -c "select 1" postgres 2>&1); rc=$?
check server_garbage_client_fails test "$rc" != 0
wait_for 5 grep -q 'event=pg_garbage .*from=server' "$FL_LOG"
check server_garbage_counted grep -q 'event=pg_garbage .*proxy=junk from=server' "$FL_LOG"

wait $LP
check other_session_unharmed grep -q "step=3 kind=q status=PGRES_TUPLES_OK" "$TT/long.out"

# hang released by the end of its window: the held query then runs
wait $SP
out=$(cat "$TT/stuck.out")
ms=$(grep -o 'step=1 .*ms=[0-9.]*' <<<"$out" | sed 's/.*ms=//')
check hang_released grep -q "step=1 kind=q status=PGRES_TUPLES_OK" <<<"$out"
check hang_released_at_window_end within "${ms:-0}" 2000 6000

# tls = passthrough: the SSLRequest reaches the server (which says 'N' itself: no ssl set up)
out=$(PGSSLMODE=prefer psql -h 127.0.0.1 -p "$T" -U postgres -X -At -c "select 7" postgres 2>&1)
check tls_passthrough_works test "$out" = 7
out=$(PGSSLMODE=require psql -h 127.0.0.1 -p "$T" -U postgres -X -At -c "select 7" postgres 2>&1)
check tls_passthrough_server_answers grep -qi "server does not support SSL" <<<"$out"
done_tests
