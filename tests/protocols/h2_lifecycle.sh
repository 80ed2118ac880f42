#!/usr/bin/env bash
# issue 24's scoping and lifecycle faults on mode = http2 and grpc, with real clients: max_active
# per stream (curl --http2-prior-knowledge, nghttp: past the cap a stream passes, counted
# `capped`), close_after (requests: GOAWAY after N streams, curl and nghttp see it, grpcio
# reconnects; how = rst; age), corrupt (the DATA payload only: the client parses the frames and
# gets changed body bytes; a grpcio client sees a bad message), header_control
# (x-faultline-delay / -abort, x-faultline-abort-grpc as trailers-only; stripped before the
# upstream; only for header_control_clients).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/h2_lib.bash"
h2_need_node

start_h2up UP || { fail h2up_start; done_tests; exit; }
P=$(free_port); A=$(free_port)
f="$TT/p.ini"
{ printf '[faultline]\nadmin = 127.0.0.1:%s\n' "$A"; px web "$P" "127.0.0.1:$UP" mode=http2; } >"$f"
h2fault "$f" capped web latency delay=800ms max_active=2 match_path=/cap*
start_fl "$f" || { fail start; done_tests; exit; }
B=http://127.0.0.1:$P

# max_active = 2: of five streams at once (one connection), two are delayed, three pass
out=$(nghttp -n -s "$B/cap1" "$B/cap2" "$B/cap3" "$B/cap4" "$B/cap5" 2>&1)
ms=$(awk '$NF ~ /^\/cap/ {v=$2; sub(/^\+/, "", v); if (v ~ /us$/) {sub(/us$/, "", v); v/=1000} else if (v ~ /ms$/) sub(/ms$/, "", v); else {sub(/s$/, "", v); v*=1000}; print int(v)}' <<<"$out" | sort -n | tr '\n' ' ')
echo "# max_active=2, five streams on one connection: response times (ms) $ms"
slow=$(tr ' ' '\n' <<<"$ms" | awk '$1 >= 750' | wc -l); fast=$(tr ' ' '\n' <<<"$ms" | awk '$1 != "" && $1 < 400' | wc -l)
check max_active_streams_two_delayed [ "$slow" = 2 ]
check max_active_streams_three_pass [ "$fast" = 3 ]
st=$(curl -s "http://127.0.0.1:$A/stats")
check max_active_capped_counted [ "$(jq '.proxies.web.faults.capped.capped' <<<"$st")" = 3 ]
check max_active_places_given_back [ "$(jq '.proxies.web.faults.capped.active' <<<"$st")" = 0 ]
# the places come back when the streams end: two more at once are both delayed (separate connections)
c2 "$B/cap6" >"$TT/c6" & w=$!; c2 "$B/cap7" >"$TT/c7"; wait $w
t6=$(cut -d' ' -f2 <"$TT/c6"); t7=$(cut -d' ' -f2 <"$TT/c7")
echo "# then two streams on two connections: $t6 s, $t7 s"
check max_active_places_reused bash -c "awk -v a=$t6 -v b=$t7 'BEGIN { exit !(a >= 0.75 && b >= 0.75) }'"
done_tests
