#!/usr/bin/env bash
# The record's size is bounded (issue 20, M3; docs/metrics.md "Limits"):
#   1. text fields from peers are clipped: a 56 KiB path, a 2 KiB Host and X-Request-Id are
#      recorded as their first 256 bytes and "…#<hash>", and counted (fields_clipped); a 2 KiB
#      Postgres user name is kept to 63 bytes by the engine itself;
#   2. a run has a budget in Redis (record_max_bytes): past it events are counted
#      (events_over_budget, record_over_budget), not written, and the events stream stops growing;
#   3. the export (record.json) is streamed: a run with 300,000 stream entries (one of them with
#      bytes that are not UTF-8) is exported whole, parses, and the runner's peak RSS stays small.
. "$(dirname "$0")/../lib.sh"

start_redis || { fail redis_start "redis-server did not start"; exit 1; }
rc() { redis-cli -s "$REDIS_SOCK" "$@"; }
start_peer UP 127.0.0.1:0 http
start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port); PP=$(free_port); BP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
redis = $REDIS_URL
run = lim
instance = i1
record_interval = 200ms
record_max_bytes = 1MiB
[proxy web]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
mode = http
[proxy db]
listen = 127.0.0.1:$PP
upstream = 127.0.0.1:$ECHO
mode = postgres
[proxy bulk]
listen = 127.0.0.1:$BP
upstream = 127.0.0.1:$UP
mode = http
INI
start_fl "$TT/p.ini" || { fail start "$(cat "$FL_LOG")"; exit 1; }

# ---- 1. clipped fields ----
LONGPATH="/$(head -c 57344 /dev/zero | tr '\0' 'p')"
LONGH=$(head -c 2048 /dev/zero | tr '\0' 'h')
LONGID=$(head -c 2048 /dev/zero | tr '\0' 'i')
curl -s -m 5 -o /dev/null -H "Host: $LONGH" -H "X-Request-Id: $LONGID" "http://127.0.0.1:$LP$LONGPATH"
python3 - "$PP" <<'PY'
import socket, struct, sys
user = b"u" * 2048
body = struct.pack("!I", 196608) + b"user\0" + user + b"\0database\0d\0\0"
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(struct.pack("!I", len(body) + 4) + body)
s.settimeout(2)
try:
    s.recv(65536)
except Exception:
    pass
s.close()
PY
sleep 0.5
field() { rc xrange "fl:run:lim:events:$1" - + | awk -v f="$2" 'prev == f { print; exit } { prev = $0 }'; }
path=$(field web path)
echo "# path recorded: ${#path} bytes, ends ${path: -12}"
check path_clipped_to_268 [ "$(printf %s "$path" | wc -c)" = 268 ]
check path_keeps_prefix_and_hash eval '[[ "$path" =~ ^/p{255}…#[0-9a-f]{8}$ ]]'
check host_clipped [ "$(field web host | wc -c)" = 269 ]
check request_id_clipped [ "$(field web request_id | wc -c)" = 269 ]
wait_for 5 eval '[ -n "$(field db pg_user)" ]'
check pg_user_bounded [ "$(field db pg_user | wc -c)" -le 64 ]
wait_for 3 eval '[ "$(rc hget fl:run:lim:counters:web:i1 fields_clipped)" -ge 3 ] 2>/dev/null'
check web_fields_clipped_counted [ "$(rc hget fl:run:lim:counters:web:i1 fields_clipped)" -ge 3 ]

# ---- 2. the run's budget ----
N=6000
python3 - "$BP" "$N" <<'PY'
import http.client, sys
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=10)
for i in range(int(sys.argv[2])):
    c.request("GET", "/" + "b" * 200 + "?n=%d" % i)
    c.getresponse().read()
c.close()
PY
sleep 1
h() { rc hget "$1" "$2"; }
written=$(h fl:run:lim:counters:bulk:i1 events_written); over=$(h fl:run:lim:counters:bulk:i1 events_over_budget)
echo "# bulk: events written $written, over budget $over; run: $(h fl:run:lim:meta:i1 record_bytes) bytes"
check budget_stopped_events [ "${over:-0}" -gt 1000 ]
check every_request_counted [ $((written + over)) -ge $N ]
check stream_holds_only_written [ "$(rc xlen fl:run:lim:events:bulk)" -le "$written" ]
stop_pid "$FL_PID"
check meta_over_budget_counted [ "$(h fl:run:lim:meta:i1 record_over_budget)" -ge "$over" ]
check meta_budget_recorded [ "$(h fl:run:lim:meta:i1 record_max_bytes)" = 1048576 ]
bytes=$(h fl:run:lim:meta:i1 record_bytes)
check spent_about_the_budget within "$bytes" 1048576 1100000
mem=$(rc memory usage fl:run:lim:events:bulk)
echo "# events stream of bulk: $mem bytes in Redis"
check stream_memory_bounded [ "$mem" -lt $((2 * 1048576)) ]
check budget_logged grep -q 'event=record_budget_reached' "$FL_LOG"

# ---- 3. the streamed export ----
rc eval "for i = 1, 300000 do redis.call('XADD', KEYS[1], '*', 'kind', 'request', 'path', '/x' .. i, 'status', '200') end" \
    1 fl:run:big:events:huge >/dev/null
rc xadd fl:run:big:events:huge '*' kind request path "$(printf '/bad\xff\x01<"\\')" >/dev/null
rc zadd fl:runs 1 big >/dev/null
cat >"$TT/s.ini" <<INI
[scenario]
name = a big record
[proxy small]
listen = 127.0.0.1:$(free_port)
upstream = 127.0.0.1:$UP
[phase one]
duration = 200ms
INI
chmod 600 "$TT/s.ini"
python3 - "$FL" "$TT/s.ini" "$TT/out" "$REDIS_URL" >"$TT/maxrss" <<'PY'
import resource, subprocess, sys
fl, scn, out, url = sys.argv[1:]
subprocess.run([fl, "run", scn, "--out", out, "--run", "big", "--redis", url],
               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
PY
maxrss=$(cat "$TT/maxrss")
size=$(stat -c %s "$TT/out/record.json" 2>/dev/null || echo 0)
echo "# record.json: $size bytes; runner's peak RSS: $maxrss KiB"
python3 - "$TT/out/record.json" >"$TT/count" 2>&1 <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
v = r["keys"]["fl:run:big:events:huge"]["value"]
print(len(v), v[-1]["path"] == '/bad\u00ff\u0001<"\\', r["run"])
PY
check export_parses_with_every_entry [ "$(cat "$TT/count")" = "300001 True big" ]
sanitized=0
if grep -q -a __asan_init "$FL" 2>/dev/null || [ -n "${VALGRIND:-}" ]; then sanitized=1; fi
if [ $sanitized = 0 ]; then check export_peak_rss_under_48mib [ "$maxrss" -lt 49152 ]; fi
done_tests
