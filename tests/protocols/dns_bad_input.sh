#!/usr/bin/env bash
# mode = dns and bad input: garbage over UDP (too short, a response, a compression pointer in the
# question, two questions, a bad label, a cut question) is counted as malformed and dropped or
# answered FORMERR; another opcode gets NOTIMP; over TCP a length below a header or above the
# bound closes the connection (counted), a message split across writes and two pipelined in one
# write are both answered; random bytes over both change nothing; the server answers normally
# afterwards.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/dns_lib.bash
need_dig

P=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = debug
[proxy names]
mode = dns
listen = 127.0.0.1:$P
record = api.test A 127.0.0.1
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
malformed() { curl -s -m 5 "http://127.0.0.1:$AP/stats" | jq -r '.proxies.names.dns.malformed'; }
m0=$(malformed)

python3 - "$P" >"$TT/udp.out" <<'EOF'
import socket, struct, sys
port = int(sys.argv[1])
def q(payload):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(0.5)
    s.sendto(payload, ('127.0.0.1', port))
    try:
        d = s.recv(4096)
        return 'answer rcode=%d len=%d id=%04x' % (d[3] & 15, len(d), struct.unpack('>H', d[:2])[0])
    except socket.timeout:
        return 'none'
hdr = lambda flags, qd=1: struct.pack('>HHHHHH', 0x1234, flags, qd, 0, 0, 0)
name = b'\x03api\x04test\x00'
print('short', q(b'\x12\x34\x01'))
print('response', q(hdr(0x8100) + name + b'\x00\x01\x00\x01'))
print('pointer', q(hdr(0x0100) + b'\xc0\x0c\x00\x01\x00\x01'))
print('two', q(hdr(0x0100, 2) + name + b'\x00\x01\x00\x01' + name + b'\x00\x01\x00\x01'))
print('badlabel', q(hdr(0x0100) + b'\x03a b\x04test\x00\x00\x01\x00\x01'))
print('cut', q(hdr(0x0100) + b'\x03api\x04te'))
print('opcode', q(hdr(0x1100) + name + b'\x00\x01\x00\x01'))
print('good', q(hdr(0x0100) + name + b'\x00\x01\x00\x01'))
EOF
echo "# $(tr '\n' ';' <"$TT/udp.out")"
check udp_short_dropped grep -q '^short none' "$TT/udp.out"
check udp_response_dropped grep -q '^response none' "$TT/udp.out"
check udp_pointer_formerr grep -q '^pointer answer rcode=1 len=12 id=1234' "$TT/udp.out"
check udp_two_questions_formerr grep -q '^two answer rcode=1' "$TT/udp.out"
check udp_bad_label_formerr grep -q '^badlabel answer rcode=1' "$TT/udp.out"
check udp_cut_formerr grep -q '^cut answer rcode=1' "$TT/udp.out"
check udp_opcode_notimp grep -q '^opcode answer rcode=4' "$TT/udp.out"
check udp_good_after grep -q '^good answer rcode=0' "$TT/udp.out"
m1=$(malformed)
check udp_malformed_counted test $((m1 - m0)) = 6
# random garbage: never a crash
head -c 20000 /dev/urandom >"$TT/rand"
python3 - "$P" "$TT/rand" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
data = open(sys.argv[2], 'rb').read()
for i in range(0, len(data), 100):
    s.sendto(data[i:i + 100], ('127.0.0.1', int(sys.argv[1])))
EOF
sleep 0.3
m1=$(malformed)

python3 - "$P" >"$TT/tcp.out" <<'EOF'
import socket, struct, sys, time
port = int(sys.argv[1])
q = struct.pack('>HHHHHH', 0x4242, 0x0100, 1, 0, 0, 0) + b'\x03api\x04test\x00\x00\x01\x00\x01'
framed = struct.pack('>H', len(q)) + q
def conn():
    s = socket.create_connection(('127.0.0.1', port))
    s.settimeout(2)
    return s
def closed(s):
    try:
        return s.recv(10) == b''
    except (ConnectionResetError, socket.timeout):
        return False
def answers(s, n):
    got = b''
    while got.count(b'\x42\x42\x85\x80') < n:
        d = s.recv(4096)
        if not d: break
        got += d
    return got.count(b'\x42\x42\x85\x80')   # id + flags (QR AA RD RA, NOERROR)
s = conn(); s.sendall(b'\x00\x03abc'); print('short_len', 'closed' if closed(s) else 'open')
s = conn(); s.sendall(b'\xff\xff' + b'x' * 100); print('huge_len', 'closed' if closed(s) else 'open')
s = conn(); s.sendall(framed[:5]); time.sleep(0.2); s.sendall(framed[5:]); print('split', answers(s, 1))
s = conn(); s.sendall(framed * 2); print('pipelined', answers(s, 2))
EOF
echo "# $(tr '\n' ';' <"$TT/tcp.out")"
check tcp_short_length_closed grep -q '^short_len closed' "$TT/tcp.out"
check tcp_huge_length_closed grep -q '^huge_len closed' "$TT/tcp.out"
check tcp_split_answered grep -q '^split 1' "$TT/tcp.out"
check tcp_pipelined_answered grep -q '^pipelined 2' "$TT/tcp.out"
m2=$(malformed)
check tcp_malformed_counted test $((m2 - m1)) = 2
# TCP garbage: random bytes on ten connections; faultline stays up, nothing left open
for i in $(seq 1 10); do head -c 3000 /dev/urandom | timeout 3 bash -c "cat >/dev/tcp/127.0.0.1/$P" 2>/dev/null; done
sleep 0.5
ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
echo "# $(jq -c '.proxies.names.dns' <<<"$ST")"
check tcp_none_left_open test "$(jq -r '.proxies.names.dns.tcp_open' <<<"$ST")" = 0
check still_answers test "$(dig_at "$P" +short api.test)" = 127.0.0.1
check still_answers_tcp test "$(dig_at "$P" +tcp +short api.test)" = 127.0.0.1
check alive kill -0 "$FL_PID"
check log_malformed grep -q 'event=dns_malformed proxy=names transport=tcp' "$TT/fl.log"
done_tests
