#!/usr/bin/env bash
# close_after `requests` on postgres and redis proxies: the server's whole responses are counted
# (a ReadyForQuery per query, a reply per command) and the connection is closed after the N-th,
# between responses, never inside one. Real clients: psql (-c per query on one connection) sees
# the first N answers then "connection to server was lost"; redis-cli and a raw RESP
# client get N replies, then EOF (close = fin) or a reset (close = rst).
cd "$(dirname "$0")/../.."
source tests/lib.sh
trap '' PIPE

start_redis || { fail redis_start "redis did not start"; done_tests; exit; }
start_postgres || { fail pg_start "postgres did not start"; done_tests; exit; }
R=$(free_port); RR=$(free_port); Q=$(free_port); A=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$A
[proxy cache]
listen = 127.0.0.1:$R
upstream = unix:$REDIS_SOCK
mode = redis
[proxy cache2]
listen = 127.0.0.1:$RR
upstream = unix:$REDIS_SOCK
mode = redis
[proxy db]
listen = 127.0.0.1:$Q
upstream = 127.0.0.1:$PGPORT
mode = postgres
[fault three]
proxy = cache
type = close_after
requests = 3
[fault three-rst]
proxy = cache2
type = close_after
requests = 3
close = rst
[fault two]
proxy = db
type = close_after
requests = 2
EOT
start_fl "$TT/p.ini" || { fail start; done_tests; exit; }
stat() { curl -s "http://127.0.0.1:$A/stats" | jq -r "$1"; }

# redis: five PINGs one after another on one connection: three PONGs, then the end
resp5() {  # resp5 PORT: what a client that sends PING, waits for its reply, five times, reads
    local port=$1 i line got=0 end=""
    exec 3<>"/dev/tcp/127.0.0.1/$port" || { echo "noconn"; return; }
    for i in 1 2 3 4 5; do
        printf 'PING\r\n' >&3 2>/dev/null || { end=write-failed; break; }
        if IFS= read -r -t 3 line <&3; then [ "${line%$'\r'}" = "+PONG" ] && got=$((got + 1))
        else end=eof; break; fi
    done
    exec 3<&- 3>&-
    echo "pongs=$got end=${end:-none}"
}
out=$(resp5 "$R")
echo "# redis close_after requests=3 (fin), five PINGs: $out"
check redis_close_after_three_replies [ "$(kv "$out" pongs)" = 3 ]
check redis_close_after_then_eof [ "$(kv "$out" end)" != none ]
out=$(resp5 "$RR")
echo "# redis close_after requests=3 (rst), five PINGs: $out"
check redis_close_after_rst_three_replies [ "$(kv "$out" pongs)" = 3 ]
check redis_close_after_counted [ "$(stat '.proxies.cache.faults.three.closes')" -ge 1 ]
check redis_close_after_rst_counted [ "$(stat '.proxies.cache2.faults["three-rst"].resets')" -ge 1 ]
# redis-cli in one session (commands from stdin on one connection; redis-cli sends one command of
# its own first, which counts): it reports the close, connects again and goes on
out=$(printf 'SET k 1\nINCR k\nINCR k\nGET k\n' | timeout 10 redis-cli -p "$R" 2>&1)
echo "# redis-cli: $(tr '\n' ' ' <<<"$out")"
check redis_cli_answers_before bash -c "grep -qx OK <<<'$out' && grep -qx 2 <<<'$out'"
check redis_cli_sees_close grep -qE 'Server closed the connection|reset by peer' <<<"$out"   # (a FIN with the client's next command unread goes out as a reset)

# postgres: psql runs three queries on one connection: two answered, then the close
out=$(timeout 20 psql -h 127.0.0.1 -p "$Q" -U postgres -X -At -c "select 'one'" -c "select 'two'" -c "select 'three'" postgres 2>&1)
echo "# psql through close_after requests=2: $(tr '\n' ' ' <<<"$out")"
check pg_close_after_two_answered bash -c "grep -qx one <<<'$out' && grep -qx two <<<'$out'"
check pg_close_after_third_lost bash -c "! grep -qx three <<<'$out' && grep -qi 'connection to server was lost' <<<'$out'"
check pg_close_after_counted [ "$(stat '.proxies.db.faults.two.closes')" -ge 1 ]
# a new connection gets its own count
out=$(timeout 20 psql -h 127.0.0.1 -p "$Q" -U postgres -X -At -c "select 'again'" postgres 2>&1)
check pg_close_after_new_connection [ "$out" = again ]
done_tests
