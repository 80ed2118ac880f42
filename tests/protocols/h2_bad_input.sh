#!/usr/bin/env bash
# Hostile HTTP/2 input against mode = http2 (tests/peers/h2raw.py writes the frames): a
# rapid-reset flood (CVE-2023-44487's shape: streams opened and cancelled at once), a
# CONTINUATION flood, an HPACK bomb (a small header block that decodes to megabytes through
# the dynamic table), more streams than SETTINGS_MAX_CONCURRENT_STREAMS, garbage instead of the
# preface. Each is bounded (the connection closed with GOAWAY, the stream answered 431 or
# refused), counted in /stats, and leaves the proxy's memory bounded and a good client on
# another connection served at its usual speed throughout.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

start_h2up UP || { fail h2up_start; done_tests; exit; }
P=$(free_port); A=$(free_port)
{ printf '[faultline]\nadmin = 127.0.0.1:%s\n' "$A"; px web "$P" "127.0.0.1:$UP" mode=http2; } >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start; done_tests; exit; }
B=http://127.0.0.1:$P
stat() { curl -s "http://127.0.0.1:$A/stats" | jq ".proxies.web.http2.$1"; }

# a good client keeps asking while the attacks run (one request every 50 ms, each timed)
(for i in $(seq 1 120); do c2 "$B/good$i"; sleep 0.05; done) >"$TT/good" &
GOOD=$!
rss0=$(rss_kb "$FL_PID")

up0=$(curl -s --http2-prior-knowledge "$B/count" | jq .requests)
out=$(h2raw rapid-reset "$P" 5000)
echo "# rapid reset: $out"
check rapid_reset_closed bash -c "grep -q 'closed=1' <<<'$out'"
check rapid_reset_counted [ "$(stat rapid_reset_closes)" -ge 1 ]
up1=$(curl -s --http2-prior-knowledge "$B/count" | jq .requests)
echo "# the upstream saw $((up1 - up0 - 1)) of the 5000 reset streams"
check rapid_reset_upstream_bounded within $((up1 - up0)) 0 1200

out=$(h2raw continuation "$P" 200)
echo "# continuation flood: $out"
check continuation_closed bash -c "grep -q 'closed=1' <<<'$out'"
check continuation_counted [ "$(stat continuation_floods)" -ge 1 ]

out=$(h2raw hpack-bomb "$P" 300)
echo "# hpack bomb: $out"
check hpack_bomb_431 bash -c "grep -q 'data=431' <<<'$out'"
check hpack_bomb_counted [ "$(stat head_overflows)" -ge 1 ]

out=$(h2raw streams "$P" 300)
echo "# too many streams: $out"
check streams_refused bash -c "grep -q 'refused=200' <<<'$out'"
check streams_counted [ "$(stat refused_streams)" -ge 200 ]

curl -sS --http1.1 -m 5 "$B/old" >/dev/null 2>&1
check bad_preface_counted [ "$(stat bad_preface)" -ge 1 ]
timeout 5 bash -c "head -c 100000 /dev/urandom >/dev/tcp/127.0.0.1/$P" 2>/dev/null
check garbage_survived [ "$(c2 "$B/after" | cut -d' ' -f1)" = 200 ]

wait "$GOOD"
rss1=$(rss_kb "$FL_PID")
echo "# rss before ${rss0} KiB, after ${rss1} KiB"
check memory_bounded within $((rss1 - rss0)) -100000 30000
n_ok=$(grep -c '^200 ' "$TT/good")
slowest=$(awk '$1 == 200 {if ($2 > m) m = $2} END {print m+0}' "$TT/good")
echo "# good client: $n_ok of 120 answered, slowest ${slowest} s"
check good_client_served [ "$n_ok" = 120 ]
# (each sample is a new curl on a machine shared with other suites: a second or so is the
# scheduler; a proxy starved by the attacks would leave requests waiting for many seconds)
check good_client_fast within "$slowest" 0 2.5
check still_alive kill -0 "$FL_PID"
done_tests
