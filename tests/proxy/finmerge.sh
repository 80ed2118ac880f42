#!/usr/bin/env bash
# A peer's last bytes and its FIN, arriving together, leave faultline together: tcp mode sends
# the bytes it read after the peer's FIN (EPOLLRDHUP) with MSG_MORE and passes the EOF on in the
# same call, so the kernel puts the FIN on the segment that carries them (one segment, not two;
# proxy/conn.c conn_readable, docs/datapath.md). Watched on the wire: a packet socket on lo
# (root) sees every segment faultline sends, in both directions.
#
# The peers make the case certain rather than likely: the upstream greets first (so the pair is
# connected and both reads are armed), then each side sends its last bytes with MSG_MORE followed
# by shutdown(SHUT_WR), which puts its bytes and its FIN on one segment into faultline.
. "$(dirname "$0")/../lib.sh"

UP=$(free_port); L=$(free_port)
cat >"$TT/peers.py" <<'PY'
import socket, struct, sys, threading, time

def upstream(port):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(8)
    print("listening", flush=True)
    while True:
        s, _ = ls.accept()
        try:
            s.settimeout(10)
            s.sendall(b"hi\n")
            got = b""
            while True:
                b = s.recv(4096)
                if not b: break
                got += b
            s.send(b"pong:" + got, socket.MSG_MORE)   # with the FIN below: one segment
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            print("upstream:", e, flush=True)
        s.close()

def client(port, upport):
    segs = []
    try:
        sn = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
    except PermissionError as e:
        print("skip no packet socket:", e); return 3
    sn.bind(("lo", 0)); sn.settimeout(0.2)
    stop = False
    def sniff():
        while not stop:
            try: frame, meta = sn.recvfrom(65536)
            except socket.timeout: continue
            if meta[2] == socket.PACKET_OUTGOING: continue   # lo shows each packet twice
            ip = frame[14:]
            if len(ip) < 20 or ip[9] != 6: continue
            ihl = (ip[0] & 15) * 4; tot = struct.unpack("!H", ip[2:4])[0]
            tcp = ip[ihl:]
            sp, dp = struct.unpack("!HH", tcp[:4]); doff = (tcp[12] >> 4) * 4; fl = tcp[13]
            segs.append((sp, dp, fl, tot - ihl - doff))
    t = threading.Thread(target=sniff); t.start()
    c = socket.create_connection(("127.0.0.1", port), timeout=10)
    hello = c.recv(16)
    c.send(b"ping\n", socket.MSG_MORE)   # with the FIN below: one segment
    c.shutdown(socket.SHUT_WR)
    ans = b""
    while True:
        b = c.recv(4096)
        if not b: break
        ans += b
    cport = c.getsockname()[1]
    c.close()
    time.sleep(0.3)
    stop = True; t.join()
    FIN = 1
    # faultline -> upstream: the client's last bytes; faultline -> client: the upstream's
    up = [s for s in segs if s[1] == upport and s[0] != port]
    down = [s for s in segs if s[0] == port and s[1] == cport]
    upfin = [s[3] for s in up if s[2] & FIN]
    downfin = [s[3] for s in down if s[2] & FIN]
    print(f"hello={hello!r} answer={ans!r} up_fin_payload={upfin} down_fin_payload={downfin} "
          f"up_segments={len(up)} down_segments={len(down)}")
    return 0

if sys.argv[1] == "up": upstream(int(sys.argv[2]))
else: sys.exit(client(int(sys.argv[2]), int(sys.argv[3])))
PY
python3 -u "$TT/peers.py" up "$UP" >"$TT/up.out" 2>&1 & _PIDS+=($!)
wait_for 10 grep -q '^listening' "$TT/up.out" || { fail upstream "the test upstream did not start: $(cat "$TT/up.out")"; exit 1; }
{ printf '[faultline]\nadmin = off\n'; px t "$L" "127.0.0.1:$UP"; } >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }

out=$(timeout 30 python3 "$TT/peers.py" client "$L" "$UP" 2>&1); rc=$?
echo "# $out"
if [ $rc = 3 ]; then
    echo "ok fin_with_last_bytes # skip: no packet socket here ($out)"
    done_tests; exit
fi
# the bytes are the point: exactly these, both ways
check bytes_both_ways eval 'grep -q "hello=b.hi\\\\n. answer=b.pong:ping\\\\n." <<<"$out"'
# each FIN faultline sent rode on the last bytes (payload 5 = "ping\n", 10 = "pong:ping\n")
check fin_with_last_bytes_up eval 'grep -q "up_fin_payload=\[5\] " <<<"$out"'
check fin_with_last_bytes_down eval 'grep -q "down_fin_payload=\[10\] " <<<"$out"'
done_tests
