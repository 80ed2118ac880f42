#!/usr/bin/env bash
# An upstream that goes away while a request body is still streaming towards it (mode = http2):
# the stream gets its 502 or a reset, the client's remaining body is taken and dropped, and the
# proxy goes on serving. Covers the path fuzz_h2 found: the upstream's session still had the
# stream's DATA queued when the stream was freed (tests/fuzz/corpus/fuzz_h2/upstream_gone_body);
# run it under ASan (make asan) to see that no freed stream is read.
#   closer  an upstream that reads the client's preface and first request, then closes (FIN)
#   garbage an upstream that answers the preface with bytes that are not HTTP/2
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

# upstream.py MODE: accepts connections; after the first bytes it closes (closer) or writes
# garbage then closes (garbage); prints "listening PORT"
cat >"$TT/upstream.py" <<'PY'
import socket, sys, threading, time
mode = sys.argv[1]
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(("127.0.0.1", 0))
ls.listen(64)
print("listening", ls.getsockname()[1], flush=True)
def serve(c):
    try:
        c.settimeout(5)
        got = b""
        while len(got) < 80:          # the preface, SETTINGS and the request's HEADERS
            b = c.recv(4096)
            if not b:
                break
            got += b
        time.sleep(0.2)               # the client's body is under way
        if mode == "garbage":
            c.sendall(b"HTTP/1.1 200 OK\r\n\r\nnot http/2 at all" * 4)
        c.close()
    except OSError:
        pass
while True:
    c, _ = ls.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
_start_listening CL "$TT/closer.log" python3 "$TT/upstream.py" closer || { fail closer_start; done_tests; exit; }
_start_listening GB "$TT/garbage.log" python3 "$TT/upstream.py" garbage || { fail garbage_start; done_tests; exit; }
start_h2up UP || { fail h2up_start; done_tests; exit; }
P1=$(free_port); P2=$(free_port); P3=$(free_port); A=$(free_port)
{ printf '[faultline]\nadmin = 127.0.0.1:%s\n' "$A"
  px closer "$P1" "127.0.0.1:$CL" mode=http2
  px garbage "$P2" "127.0.0.1:$GB" mode=http2
  px ok "$P3" "127.0.0.1:$UP" mode=http2; } >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start; done_tests; exit; }

# a body fed slowly: 16 KiB, a pause while the upstream goes away, 16 KiB more
slow_body() { head -c 16384 /dev/zero; sleep 0.6; head -c 16384 /dev/zero; sleep 0.3; head -c 1000 /dev/zero; }
for px in closer garbage; do
    port=$P1; [ $px = garbage ] && port=$P2
    for i in 1 2 3; do
        slow_body | curl -sS --http2-prior-knowledge -m 10 -T - -o /dev/null -w '%{http_code}\n' \
            "http://127.0.0.1:$port/upload$i" >"$TT/$px.$i" 2>"$TT/$px.$i.err"
    done
    # several streams at once on one connection, each uploading
    slow_body >"$TT/body.bin"
    nghttp -n -d "$TT/body.bin" -m 4 "http://127.0.0.1:$port/many" >"$TT/$px.many" 2>&1
    check "${px}_alive" kill -0 "$FL_PID"
    codes=$(cat "$TT/$px".[123] | tr '\n' ' ')
    echo "# $px: curl codes: $codes"
    # a 502 from the proxy, or the stream reset (curl prints 000 and an HTTP/2 stream error)
    check "${px}_answered_502_or_reset" bash -c "! grep -qvE '^(502|000)$' $TT/$px.1 $TT/$px.2 $TT/$px.3"
done
out=$(c2 "http://127.0.0.1:$P3/after")
check ok_proxy_still_serves bash -c "grep -q '^200 ' <<<'$out'"
bad=$(curl -s "http://127.0.0.1:$A/stats" | jq '.proxies.closer.http.bad_responses')
echo "# closer bad_responses=$bad"
check bad_responses_counted [ "${bad:-0}" -ge 1 ]
check no_crash_in_log bash -c "! grep -qiE 'AddressSanitizer|runtime error' $FL_LOG"
done_tests
