#!/usr/bin/env bash
# mode = redis with no faults: real redis-cli and redis-benchmark through the proxy — RESP2 and
# RESP3, large values, pipelining, MULTI/EXEC, a blocking command, pub/sub passing through —
# and the facts the engine logs per session (commands per name, errors, in flight).
cd "$(dirname "$0")/../.."
source tests/lib.sh

start_redis || { fail redis_start "redis did not start"; done_tests; exit; }
P=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
[proxy cache]
listen = 127.0.0.1:$P
upstream = unix:$REDIS_SOCK
mode = redis
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
R="timeout 20 redis-cli -h 127.0.0.1 -p $P"

check set_get test "$($R set k1 hello >/dev/null; $R get k1)" = hello
check null_reply test "$($R get missing-key | wc -c)" -le 1
check server_error grep -q "WRONGTYPE" <<<"$($R lpush k1 x 2>&1)"
# a 2 MiB value both ways (streamed, not buffered whole)
head -c 2097152 /dev/zero | tr '\0' 'a' >"$TT/big"
$R -x set big <"$TT/big" >/dev/null
check large_value test "$($R strlen big)" = 2097152
check large_value_back test "$($R get big | tr -d '\n' | wc -c)" = 2097152
# RESP3: HELLO 3 then a map reply
$R hset h f1 v1 f2 v2 >/dev/null
out=$($R -3 hgetall h 2>&1)
check resp3_map grep -q "v2" <<<"$out"
check resp3_hello grep -q "proto" <<<"$($R -3 hello 3 2>&1)"
# pipelining: 500 commands in one write, answers in order
for i in $(seq 1 500); do printf 'INCR ctr\r\n'; done >"$TT/pipe.txt"
out=$($R <"$TT/pipe.txt" | tail -n1)
check pipelined_in_order test "$out" = 500
# mass insertion (raw RESP) with --pipe
for i in $(seq 1 1000); do printf '*3\r\n$3\r\nSET\r\n$%d\r\nkey:%d\r\n$1\r\nv\r\n' "$(( 4 + ${#i} ))" "$i"; done >"$TT/mass.txt"
out=$($R --pipe <"$TT/mass.txt" 2>&1)
check mass_insert grep -q "errors: 0, replies: 1000" <<<"$out"
# MULTI/EXEC
out=$(printf 'MULTI\nSET tx 1\nINCR tx\nEXEC\nGET tx\n' | $R)
check multi_exec test "$(tail -n1 <<<"$out")" = 2
# a blocking command just takes long
t0=$(date +%s%N)
$R blpop emptylist 1 >/dev/null
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check blocking_takes_long within "$ms" 900 5000
# pub/sub passes through
$R subscribe news >"$TT/sub.out" 2>&1 &
SUB=$!
_PIDS+=($SUB)
wait_for 5 grep -q subscribe "$TT/sub.out"
$R publish news hello-subscriber >/dev/null
wait_for 5 grep -q hello-subscriber "$TT/sub.out"
check pubsub_message grep -q hello-subscriber "$TT/sub.out"
kill $SUB 2>/dev/null
# redis-benchmark: every test completes through the proxy
out=$(timeout 60 redis-benchmark -h 127.0.0.1 -p "$P" -n 2000 -c 10 -P 4 -q -t set,get,incr,lpush,lpop,mset 2>&1 | tr '\r' '\n' | grep "requests per second")
echo "$out" | sed 's/^/# /'
check benchmark_all_tests test "$(grep -c "requests per second" <<<"$out")" = 6

# QUIT, then the socket kept open a while: the server closes first, and the session still
# counts as ended by the client (quit_closed_by_client below)
cat >"$TT/quit.py" <<'PY'
import socket, sys, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
c.sendall(b"*1\r\n$4\r\nPING\r\n" * 3)
got = b""
while got.count(b"+PONG\r\n") < 3: got += c.recv(100)
c.sendall(b"*1\r\n$4\r\nQUIT\r\n")
while b"+OK\r\n" not in got: got += c.recv(100)
time.sleep(0.4)
print("quit_ok", c.recv(100) == b"")   # the server's close reached us first
c.close()
PY
check quit_answered grep -q "quit_ok True" <<<"$(timeout 20 python3 "$TT/quit.py" "$P" 2>&1)"

stop_pid "$FL_PID"
check quit_closed_by_client grep -q 'event=redis_session .*commands=4 .*closed_by=client by_command=PING:3/0,QUIT:1/0' "$FL_LOG"
check session_facts grep -q 'event=redis_session .*commands=501 replies=501 .*INCR:500/0' "$FL_LOG"
check session_error_counted grep -q 'event=redis_session .*errors_server=1 .*by_command=LPUSH:1/1' "$FL_LOG"
check pubsub_passthrough grep -q 'event=redis_session .*passthrough=yes' "$FL_LOG"
check mass_insert_pipelined grep -q 'event=redis_session .*commands=1001 replies=1001 .*peak_inflight=[1-9][0-9].*SET:1000/0' "$FL_LOG"
check no_garbage bash -c "! grep -q redis_garbage '$FL_LOG'"
done_tests
