#!/usr/bin/env bash
# mode = http2 with real clients, no fault: curl --http2-prior-knowledge and (over TLS, ALPN h2)
# curl --http2, nghttp and h2load, against node's http2 server as the upstream (h2c, and TLS).
# What goes through comes out unchanged (bodies both ways, large ones, trailers, statuses);
# streams are multiplexed (slow ones do not block others on the same connection); flow
# control holds a slow reader's stream without holding the proxy's memory; /stats has the
# protocol's object; a client that speaks HTTP/1.1 to it is refused and counted.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
. "$(dirname "$0")/tls_lib.bash"
h2_need_node

start_h2up UP || { fail h2up_start; done_tests; exit; }
mk_cert "$TT/up"
start_h2up UPT --tls "$TT/up/cert.pem" "$TT/up/key.pem" || { fail h2up_tls_start; done_tests; exit; }
P=$(free_port); T=$(free_port); A=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$A
[proxy web]
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$UP
mode = http2
[proxy sec]
listen = 127.0.0.1:$T
upstream = 127.0.0.1:$UPT
mode = http2
tls = terminate
tls_cert = $TT/up/cert.pem
tls_key = $TT/up/key.pem
upstream_tls = on
upstream_ca = $TT/up/cert.pem
upstream_sni = localhost
EOT
start_fl "$TT/p.ini" || { fail start; done_tests; exit; }
B=http://127.0.0.1:$P

out=$(curl -sS --http2-prior-knowledge -i "$B/hello" 2>&1)
check get_status bash -c "grep -q '^HTTP/2 200' <<<'$out'"
check get_body bash -c "grep -q 'hello /hello' <<<'$out'"
check get_upstream_header bash -c "grep -qi '^x-upstream: h2up' <<<'$out'"
check status_passed [ "$(c2 "$B/status?code=418" | cut -d' ' -f1)" = 418 ]

head -c 3000000 /dev/urandom >"$TT/up.bin"
curl -sS --http2-prior-knowledge -m 20 --data-binary @"$TT/up.bin" -o "$TT/echo.bin" "$B/echo"
check upload_echo_3MB cmp -s "$TT/up.bin" "$TT/echo.bin"
check download_8MB [ "$(curl -sS --http2-prior-knowledge -m 20 "$B/big?n=8000000" | wc -c)" = 8000000 ]
out=$(curl -sS --http2-prior-knowledge -v "$B/trailers" 2>&1)
check trailers_passed bash -c "grep -qi '< x-trailer: yes' <<<'$out'"

# nghttp: several streams on one connection, the slow one does not hold the others
out=$(nghttp -n -s "$B/slow?ms=800" "$B/a" "$B/b" 2>&1)
echo "# $(echo "$out" | tr '\n' ' ' | cut -c1-300)"
check nghttp_three_streams [ "$(awk '$5 == 200' <<<"$out" | wc -l)" = 3 ]
# the fast streams end (responseEnd, column 2) long before the slow one
fast=$(awk '$NF == "/a" || $NF == "/b" {v=$2; sub(/^\+/, "", v); if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else {sub(/s$/, "", v); v*=1000}; if (v > m) m = v} END {print m+0}' <<<"$out")
echo "# fast streams ended by ${fast} ms"
check nghttp_multiplexed within "$fast" 0 400

out=$(h2load -n 3000 -c 4 -m 10 "$B/hello" 2>&1)
check h2load_all_2xx bash -c "grep -q 'status codes: 3000 2xx' <<<'$out'"

# TLS both ways: ALPN h2 towards the client and the upstream
out=$(curl -sS --http2 --cacert "$TT/up/cert.pem" -i "https://localhost:$T/tls" --resolve "localhost:$T:127.0.0.1" 2>&1)
check tls_alpn_h2 bash -c "grep -q '^HTTP/2 200' <<<'$out' && grep -q 'hello /tls' <<<'$out'"
out=$(h2load -n 500 -c 2 -m 5 "https://127.0.0.1:$T/x" 2>&1)
check tls_h2load bash -c "grep -q 'status codes: 500 2xx' <<<'$out' && grep -q 'Application protocol: h2' <<<'$out'"

# a slow reader: its stream waits on flow control; the proxy does not buffer the whole body
# (growth well under the 4 MB body; the absolute bound only without a sanitizer's own overhead)
rss0=$(rss_kb "$FL_PID")
curl -sS --http2-prior-knowledge --limit-rate 200k -m 30 -o /dev/null "$B/big?n=4000000" &
CPID=$!
sleep 2
rss=$(rss_kb "$FL_PID")
echo "# rss with a slow reader of 4 MB: ${rss0} -> ${rss} KiB"
grep -q -a __asan_init "$FL" 2>/dev/null || check slow_reader_bounded within "$rss" 0 40000
check slow_reader_growth_under_3mib within "$((rss - rss0))" -100000 3072
check other_streams_flow [ "$(c2 "$B/ok" | cut -d' ' -f1)" = 200 ]
kill "$CPID" 2>/dev/null; wait "$CPID" 2>/dev/null

# an HTTP/1.1 client on the h2c port: refused, counted
out=$(curl -sS --http1.1 -m 5 "$B/old" 2>&1)
st=$(curl -s "http://127.0.0.1:$A/stats")
check http1_counted [ "$(jq '.proxies.web.http2.bad_preface' <<<"$st")" -ge 1 ]
check stats_streams [ "$(jq '.proxies.web.http2.streams' <<<"$st")" -ge 3000 ]
check stats_mode [ "$(jq -r '.proxies.web.mode' <<<"$st")" = http2 ]
check stats_requests [ "$(jq '.proxies.web.http.requests' <<<"$st")" -ge 3000 ]
check still_serving [ "$(c2 "$B/after" | cut -d' ' -f1)" = 200 ]
done_tests
