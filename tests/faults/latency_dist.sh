#!/usr/bin/env bash
# latency with a distribution (faults/dist.h): the delays a real client measures follow the
# distribution's shape -- pareto's floor and long tail, normal's clamp at 0 when jitter > delay --
# per chunk on a tcp proxy and per request on an http one. `seed` fixes the draws.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

# rtts PORT N: N sequential 16-byte round trips on one connection; "min= p50= max= sd=" in ms
rtts() {
    python3 - "$1" "$2" <<'EOF'
import socket, statistics, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
v = []
for _ in range(int(sys.argv[2])):
    t = time.monotonic(); s.sendall(b"x" * 16); got = 0
    while got < 16: got += len(s.recv(64))
    v.append((time.monotonic() - t) * 1000)
print("min=%.1f p50=%.1f max=%.1f sd=%.1f" % (min(v), statistics.median(v), max(v), statistics.pstdev(v)))
EOF
}
seeded() { local f=$1; shift; fprofile "$f" "$@"; sed -i 's/^log = debug$/log = debug\nseed = 24/' "$f"; }

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
# The delays are large against the machine's noise: what a loaded machine adds to a round trip
# (6 to 20 ms to the median at load 12: 40.7 ms against a 40 ms bound with delay = 40ms) is
# small against the gaps the checks read (floor 285 ms, median 344 ms, mean 400 ms)
seeded "$TT/p.ini" "$UP" "$LP" '[fault tail]' 'proxy = p' 'type = latency' 'delay = 400ms' 'jitter = 200ms' 'distribution = pareto'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$(rtts "$LP" 60)
echo "# pareto 400ms/200ms: $out"
# the floor is 400 - 200 * 0.5 / sqrt(0.75) = 284.6 ms; the median 344 ms; the tail reaches far
# above. No draw comes under the floor at any load; a normal (median = mean = 400 ms) or a
# floorless shape still fails
check pareto_floor within "$(kv "$out" min)" 280 340
check pareto_median_below_mean within "$(kv "$out" p50)" 300 399
check pareto_long_tail within "$(kv "$out" max)" 580 10000

# normal with jitter above delay: about a third of the draws are below 0 and leave at once
seeded "$TT/p.ini" "$UP" "$LP" '[fault wide]' 'proxy = p' 'type = latency' 'delay = 10ms' 'jitter = 30ms' 'distribution = normal' 'correlation = 10%'
reload || fail reload "no reload"
out=$(rtts "$LP" 40)
echo "# normal 10ms/30ms: $out"
check normal_clamped_at_zero within "$(kv "$out" min)" 0 3
check normal_spread within "$(kv "$out" max)" 35 400
check normal_fault_started grep -q 'event=fault_start fault=wide' "$FL_LOG"
stop_pid "$FL_PID"

# http: one draw per request (keep-alive, sequential), the response head waits
HP=$(free_port)
start_peer HUP 127.0.0.1:0 http
cat >"$TT/h.ini" <<INI
[faultline]
admin = off
log = debug
seed = 24
[proxy web]
listen = 127.0.0.1:$HP
upstream = 127.0.0.1:$HUP
mode = http
[fault slow]
proxy = web
type = latency
delay = 200ms
jitter = 80ms
distribution = normal
INI
start_fl "$TT/h.ini" || { fail start "faultline did not start"; exit 1; }
out=$(python3 - "$HP" <<'EOF'
import http.client, statistics, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]), timeout=5)
v = []
for _ in range(30):
    t = time.monotonic(); c.request("GET", "/"); r = c.getresponse(); r.read()
    v.append((time.monotonic() - t) * 1000)
print("min=%.1f p50=%.1f max=%.1f sd=%.1f" % (min(v), statistics.median(v), max(v), statistics.pstdev(v)))
EOF
)
echo "# http normal 200ms/80ms: $out"
# four times the delay and jitter the machine could blur (a median of 65.1 ms for 50 ms at load
# 12); a fixed delay (sd ~0) or one draw per connection (sd 0 on one connection) still fails
check http_per_request_median within "$(kv "$out" p50)" 180 320
check http_per_request_spread within "$(kv "$out" sd)" 40 160
check http_fault_started grep -q 'event=fault_start fault=slow' "$FL_LOG"
done_tests
