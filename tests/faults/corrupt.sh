#!/usr/bin/env bash
# corrupt: bytes changed on the way, length kept. tcp: a client that checks a sha256 over a
# payload detects it (and counts the bytes hit); http: only the body's data bytes change -- the
# status line, headers and chunked framing parse as before, the body's hash is wrong.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/../protocols/http_lib.bash"

# a payload server: on each connection, 1 MiB of bytes from a fixed seed, then close
PAY=$(free_port)
python3 - "$PAY" >"$TT/pay.log" 2>&1 <<'EOF' &
import random, socket, sys
data = random.Random(7).randbytes(1 << 20)
ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", int(sys.argv[1]))); ls.listen(16)
while True:
    c, _ = ls.accept()
    try: c.sendall(data)
    except OSError: pass           # a prober (wait_port) that left at once
    c.close()
EOF
_PIDS+=($!)
wait_port "$PAY" 5 || { fail start "payload server"; exit 1; }
# fetch PORT: reads the payload through PORT, checks it against the sha256 of what was sent
fetch() {
    python3 - "$1" <<'EOF'
import hashlib, random, socket, sys
want = random.Random(7).randbytes(1 << 20)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
got = bytearray()
while True:
    b = s.recv(65536)
    if not b: break
    got += b
ok = hashlib.sha256(got).digest() == hashlib.sha256(want).digest()
diff = sum(1 for a, b in zip(got, want) if a != b)
print("len=%d sha256=%s diff=%d" % (len(got), "ok" if ok else "mismatch", diff))
EOF
}
LP=$(free_port)
fprofile "$TT/p.ini" "$PAY" "$LP" '[fault bits]' 'proxy = p' 'type = corrupt' 'per_byte = 0.002%'
sed -i 's/^log = debug$/log = debug\nseed = 24/' "$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$(fetch "$LP")
echo "# tcp 1 MiB at 0.002%/byte: $out"
check corrupt_tcp_length_kept [ "$(kv "$out" len)" = 1048576 ]
check corrupt_tcp_sha256_detects [ "$(kv "$out" sha256)" = mismatch ]
check corrupt_tcp_rate within "$(kv "$out" diff)" 5 60    # 21 expected
fprofile "$TT/p.ini" "$PAY" "$LP"
reload || fail reload "no reload"
out=$(fetch "$LP")
check corrupt_removed_clean [ "$(kv "$out" sha256)" = ok ]
stop_pid "$FL_PID"

# http: the body's data only, chunked framing included
start_httpup UP || { fail start "httpup"; exit 1; }
HP=$(free_port)
http_proxy_ini "$TT/h.ini" "$HP" "$UP"
printf 'seed = 24\nlog = debug\n[fault bits]\nproxy = web\ntype = corrupt\nper_byte = 0.05%%\nmatch_path = /chunked/*\n' >>"$TT/h.ini"
sed -i '/^seed = 24$/d; /^log = debug$/d; s/^admin = off$/admin = off\nseed = 24\nlog = debug/' "$TT/h.ini"
start_fl "$TT/h.ini" || { fail start "faultline did not start"; exit 1; }
out=$(python3 - "$HP" "$UP" <<'EOF'
import hashlib, http.client, sys
def get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
    c.request("GET", path); r = c.getresponse(); body = r.read()
    return r.status, r.getheader("Transfer-Encoding"), r.getheader("X-Req"), body
st, te, xr, via = get(sys.argv[1], "/chunked/200000")
_, _, _, direct = get(sys.argv[2], "/chunked/200000")
_, _, _, other = get(sys.argv[1], "/bytes/50000")
_, _, _, other_d = get(sys.argv[2], "/bytes/50000")
diff = sum(1 for a, b in zip(via, direct) if a != b)
print("status=%d te=%s xreq=%s len=%d want=%d sha256=%s diff=%d unmatched_path=%s" % (
    st, te, xr, len(via), len(direct),
    "ok" if hashlib.sha256(via).digest() == hashlib.sha256(direct).digest() else "mismatch", diff,
    "clean" if other == other_d else "changed"))
EOF
)
echo "# http chunked 200000 at 0.05%/byte: $out"
check corrupt_http_status_intact [ "$(kv "$out" status)" = 200 ]
check corrupt_http_head_intact [ "$(kv "$out" te)" = chunked ]
check corrupt_http_framing_intact [ "$(kv "$out" len)" = "$(kv "$out" want)" ]
check corrupt_http_sha256_detects [ "$(kv "$out" sha256)" = mismatch ]
check corrupt_http_rate within "$(kv "$out" diff)" 40 180    # 100 expected
check corrupt_http_match_only [ "$(kv "$out" unmatched_path)" = clean ]
check corrupt_http_applied grep -q 'fault=bits' "$FL_LOG"
stop_pid "$FL_PID"

# redis: the raw stream, framing included; redis-cli (hiredis) gets a changed value or reports a
# protocol error, depending on where the hits land
start_redis || { fail start "redis"; exit 1; }
redis-cli -s "$REDIS_SOCK" set k hello >/dev/null
RP=$(free_port)
printf '[faultline]\nadmin = off\nseed = 24\n[proxy r]\nlisten = 127.0.0.1:%s\nupstream = unix:%s\nmode = redis\n[fault bits]\nproxy = r\ntype = corrupt\nper_byte = 15%%\n' "$RP" "$REDIS_SOCK" >"$TT/r.ini"
start_fl "$TT/r.ini" || { fail start "faultline did not start"; exit 1; }
same=0 changed=0 errors=0
for i in $(seq 1 20); do
    o=$(timeout 2 redis-cli -p "$RP" get k 2>&1); rc=$?
    if [ "$rc" != 0 ] || grep -q '^Error' <<<"$o"; then errors=$((errors + 1)); echo "# redis-cli: $o"
    elif [ "$o" = hello ]; then same=$((same + 1)); else changed=$((changed + 1)); fi
done
echo "# redis 20 GETs at 15%/byte: same=$same changed=$changed errors=$errors"
check corrupt_redis_value_changed within "$changed" 1 20
check corrupt_redis_protocol_error within "$errors" 1 20
done_tests
