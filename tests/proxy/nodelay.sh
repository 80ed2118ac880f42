#!/usr/bin/env bash
# TCP_NODELAY on both sockets of every proxied pair (small answers leave at once, no Nagle wait
# behind an unacknowledged segment), whatever the mode and however the upstream is given: read
# from faultline's own sockets, duplicated into the test with pidfd_getfd(2) (Linux >= 5.6, needs
# ptrace rights over faultline: root here). The client side inherits the option from the
# listening socket (proxy_bind), the upstream side sets it on its socket.
. "$(dirname "$0")/../lib.sh"

start_peer HOLD 127.0.0.1:0 hold
start_peer HOLD2 127.0.0.1:0 hold
start_peer HTTPUP 127.0.0.1:0 http
L1=$(free_port); L2=$(free_port); L3=$(free_port)
{
    printf '[faultline]\nadmin = off\n'
    px tcp "$L1" "127.0.0.1:$HOLD"
    px byname "$L2" "localhost:$HOLD2"
    px http "$L3" "127.0.0.1:$HTTPUP" mode=http
} >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }

# one open connection through each proxy (the http one with a request in flight to /sleep)
"$TBIN/idleconns" "127.0.0.1:$L1" 1 30 >"$TT/i1" 2>&1 & _PIDS+=($!)
"$TBIN/idleconns" "127.0.0.1:$L2" 1 30 >"$TT/i2" 2>&1 & _PIDS+=($!)
curl -s -m 30 -o /dev/null "http://127.0.0.1:$L3/sleep/25000" & _PIDS+=($!)
want=6
# faultline's connected TCP sockets, each with its local and peer address and TCP_NODELAY
cat >"$TT/nd.py" <<'PY'
import ctypes, os, socket, sys
pid = int(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
SYS_pidfd_getfd = 438
try:
    pfd = os.pidfd_open(pid)
except (AttributeError, OSError) as e:
    print("error pidfd_getfd: no pidfd_open:", e); sys.exit(3)
n = 0
for name in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
    try:
        if not os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:"): continue
    except OSError: continue
    fd = libc.syscall(SYS_pidfd_getfd, pfd, int(name), 0)
    if fd < 0:
        print("error pidfd_getfd", os.strerror(ctypes.get_errno())); sys.exit(3)
    s = socket.socket(fileno=fd)
    try:
        if s.type != socket.SOCK_STREAM or s.family not in (socket.AF_INET, socket.AF_INET6): continue
        try: peer = s.getpeername()
        except OSError: continue          # a listener
        print(f"sock {s.getsockname()[1]}->{peer[1]} nodelay={s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)}")
        n += 1
    finally:
        s.close()
print("count", n)
PY

have() { [ "$(python3 "$TT/nd.py" "$FL_PID" 2>/dev/null | awk '/^count/ {print $2}')" -ge "$want" ]; }
wait_for 5 have
out=$(python3 "$TT/nd.py" "$FL_PID" 2>&1)
echo "$out" | sed 's/^/# /'
if echo "$out" | grep -q '^error pidfd_getfd'; then
    echo "ok nodelay_all_sockets # skip: pidfd_getfd not allowed here ($out)"
else
    check nodelay_pairs_seen [ "$(echo "$out" | awk '/^count/ {print $2}')" -ge "$want" ]
    check nodelay_on_every_socket eval '! echo "$out" | grep -q "nodelay=0"'
    # each proxy's two sides by port: client side (local port = listen port), upstream side
    for p in "$L1:$HOLD:tcp" "$L2:$HOLD2:dns_name" "$L3:$HTTPUP:http"; do
        IFS=: read -r lp up n <<<"$p"
        check "nodelay_${n}_client_side" eval 'echo "$out" | grep -q "^sock $lp->[0-9]* nodelay=1"'
        check "nodelay_${n}_upstream_side" eval 'echo "$out" | grep -q "^sock [0-9]*->$up nodelay=1"'
    done
fi
done_tests
