#!/usr/bin/env bash
# mode = dns forwarding, against an upstream that truncates (tests/protocols/dns_up.py, dnspython
# message code): an upstream answer with TC over UDP is asked again once over TCP and the client
# gets the records (dig over TCP gets them whole; over UDP without EDNS the answer is cut with TC
# and dig retries over TCP); a client's EDNS(0) OPT reaches the upstream untouched (its payload
# size and options) and the client's advertised size is honoured for the answer over UDP.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/dns_lib.bash
need_dig
/usr/bin/python3 -c 'import dns.message' 2>/dev/null || { echo "# skip: no python3-dnspython for the upstream"; done_tests; exit; }

# its port from free_port (below the ephemeral range): with port 0 the kernel picked one among
# the client connections' source ports, and the TCP bind to the UDP socket's port once found it
# taken by one of them (EADDRINUSE in a full run beside another suite)
/usr/bin/python3 tests/protocols/dns_up.py "$(free_port)" >"$TT/up.out" 2>&1 &
_PIDS+=($!)
wait_for 10 grep -q '^listening ' "$TT/up.out" || { fail upstream_start "$(cat "$TT/up.out")"; done_tests; exit; }
UPP=$(sed -n 's/^listening //p' "$TT/up.out")
P=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
[proxy names]
mode = dns
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$UPP
upstream_timeout = 2s
EOT
start_fl "$TT/p.ini" || { fail start; done_tests; exit; }

# TC from the upstream: the proxy asks once more over TCP
out=$(dig_at "$P" +tcp big.test A)
echo "# dig +tcp big.test: $(grep -E '^;; (flags|MSG SIZE)' <<<"$out" | tr '\n' ' ')"
check tc_retry_tcp_client_gets_all [ "$(grep -c $'^big.test.*\tA\t' <<<"$out")" = 40 ]
out=$(dig_at "$P" +noedns big.test A)
echo "# dig (udp, no edns) big.test: $(grep -E '^;; (Truncated|flags|MSG SIZE)' <<<"$out" | tr '\n' ' ')"
check tc_retry_udp_client_retries_tcp grep -q 'Truncated, retrying in TCP mode' <<<"$out"
check tc_retry_udp_client_gets_all [ "$(grep -c $'^big.test.*\tA\t' <<<"$out")" = 40 ]
st=$(curl -s "http://127.0.0.1:$AP/stats")
check tc_retry_counted [ "$(jq '.proxies.names.dns.forwarded_tcp' <<<"$st")" -ge 2 ]
up=$(dig_at "$P" +short count.test TXT)
echo "# the upstream saw: $up"
check tc_retry_upstream_tcp [ "$(sed -n 's/.*tcp=\([0-9]*\).*/\1/p' <<<"$up")" -ge 2 ]

# EDNS(0): the OPT goes upstream as the client sent it
out=$(dig_at "$P" +bufsize=1400 +short opt.test TXT)
echo "# opt.test with +bufsize=1400: $out; without edns: $(dig_at "$P" +noedns +short opt.test TXT)"
check edns_opt_forwarded [ "$out" = '"size=1400 opts=1"' ]
check edns_none_stays_none [ "$(dig_at "$P" +noedns +short opt.test TXT)" = '"none"' ]
# the client's payload size decides what fits over UDP: 45 records (about 740 bytes)
out=$(dig_at "$P" +bufsize=1232 wide.test A)
echo "# wide.test +bufsize=1232: $(grep -E '^;; (Truncated|MSG SIZE)' <<<"$out" | tr '\n' ' ')"
check edns_size_honoured bash -c "! grep -q Truncated <<<'$out' && [ \$(grep -c $'^wide.test.*\tA\t' <<<'$out') = 45 ]"
check edns_opt_in_answer grep -q '; EDNS: version: 0' <<<"$out"
out=$(dig_at "$P" +noedns wide.test A)
check no_edns_cut_at_512 grep -q 'Truncated, retrying in TCP mode' <<<"$out"
check no_edns_tcp_gets_all [ "$(grep -c $'^wide.test.*\tA\t' <<<"$out")" = 45 ]
if [ -n "$DPY" ]; then
    out=$(dnsq "$P" resolve big.test A 2>&1)
    echo "# dnspython resolve big.test: $(cut -c1-80 <<<"$out")"
    check tc_retry_dnspython bash -c "grep -q '^ok ' <<<'$out' && [ \$(tr ',' '\n' <<<'$out' | wc -l) = 40 ]"
fi
done_tests
