#!/usr/bin/env bash
# loss: what packet loss does to a TCP stream as a real client sees it -- stalls of an RTO that
# back off while retransmissions are lost, bytes intact and in order -- and a client whose read
# timeout is shorter than one RTO failing on it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

# rtts PORT N: N sequential 16-byte round trips on one connection; the list of ms, comma-separated
rtts() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
v = []
for _ in range(int(sys.argv[2])):
    t = time.monotonic(); s.sendall(b"x" * 16); got = 0
    while got < 16: got += len(s.recv(64))
    v.append((time.monotonic() - t) * 1000)
print(",".join("%.0f" % x for x in v))
EOF
}
seeded() { local f=$1; shift; fprofile "$f" "$@"; sed -i 's/^log = debug$/log = debug\nseed = 24/' "$f"; }
# all_near LIST CENTERS...: every value of the comma list is at most 15 ms below or 120 ms above
# one of the centers (a loaded or sanitized run wakes late, never early: ASan at load 5 woke a
# 350 ms stall 105 ms late). A stall off the ladder still fails: with centers 50 150 350 750,
# 271-334 ms and 471-734 ms are outside every window.
all_near() { local l=$1; shift; python3 -c "import sys; c=[float(x) for x in sys.argv[2:]]; sys.exit(0 if all(any(-15<=float(v)-x<=120 for x in c) for v in sys.argv[1].split(',')) else 1)" "$l" "$@"; }
max_of() { tr ',' '\n' <<<"$1" | sort -n | tail -n1; }

start_peer UP 127.0.0.1:0 echo
LP=$(free_port)
# p = 1, r = 1: every segment goes bad once and its first retransmission gets through: one RTO each
seeded "$TT/p.ini" "$UP" "$LP" '[fault lossy]' 'proxy = p' 'type = loss' 'p = 100%' 'r = 1' 'rto = 100ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$(rtts "$LP" 5)
echo "# p=1 r=1 rto=100ms: $out"
check loss_one_rto_each all_near "$out" 100

# r = 0.5: a retransmission is lost again half the time: stalls of 50, 50+100, 50+100+200 ... ms
seeded "$TT/p.ini" "$UP" "$LP" '[fault lossy]' 'proxy = p' 'type = loss' 'p = 1' 'r = 0.5' 'rto = 50ms'
reload || fail reload "no reload"
out=$(rtts "$LP" 12)
echo "# p=1 r=0.5 rto=50ms: $out"
check loss_backoff_steps all_near "$out" 50 150 350 750 1550 3150
check loss_backoff_seen within "$(max_of "$out")" 130 5000

# a bulk stream through bursty loss both ways: every byte arrives, in order
seeded "$TT/p.ini" "$UP" "$LP" '[fault lossy]' 'proxy = p' 'type = loss' 'p = 2%' 'r = 60%' 'rto = 20ms' 'direction = both'
reload || fail reload "no reload"
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 300000 8192)
echo "# bulk: $out"
check loss_bytes_intact [ "$(kv "$out" match)" = yes ]
check loss_bulk_stalled within "$(kv "$out" ms)" 40 20000

# a client with a 150 ms read timeout against rto = 200ms: it times out (Python's socket.timeout)
seeded "$TT/p.ini" "$UP" "$LP" '[fault lossy]' 'proxy = p' 'type = loss' 'p = 1' 'r = 1' 'rto = 200ms'
reload || fail reload "no reload"
out=$(python3 - "$LP" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=0.15)
s.sendall(b"ping\n")
try:
    s.recv(64); print("result=data")
except socket.timeout as e:
    print("result=timeout error=%r" % (e,))
EOF
)
echo "# short read timeout: $out"
check loss_short_timeout_trips grep -q 'result=timeout' <<<"$out"
fprofile "$TT/p.ini" "$UP" "$LP"
reload || fail reload "no reload"
check loss_removed_counters grep -q 'event=fault_removed fault=lossy .*conns_affected=[1-9].*bytes_delayed=[1-9]' "$FL_LOG"
done_tests
