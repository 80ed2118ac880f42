#!/usr/bin/env bash
# mode = dns with no faults, against real resolvers: dig over UDP and TCP, dnspython's Resolver
# and Node's dns.Resolver. Records (A, AAAA, CNAME chains, TTLs), names without records (the
# fallback: NXDOMAIN or REFUSED), forwarding to an upstream (another faultline dns proxy) and its
# timeout, a reload that changes a record, and `faultline check` refusing bad keys with file:line.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/dns_lib.bash
need_dig

P=$(free_port); P2=$(free_port); P3=$(free_port); P4=$(free_port); DEAD=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = 127.0.0.1:$AP
log = debug
[proxy names]
mode = dns
listen = 127.0.0.1:$P
record = api.test A 127.0.0.1
record = api.test A 127.0.0.3
record = api.test AAAA ::1 30
record = www.test CNAME api.test 10
record = deep.test CNAME www.test
record = v6only.test AAAA ::2
[proxy strict]
mode = dns
listen = 127.0.0.1:$P2
fallback = refused
record = only.test A 10.1.2.3
[proxy fwd]
mode = dns
listen = 127.0.0.1:$P3
upstream = 127.0.0.1:$P
record = local.test A 10.9.9.9
[proxy fwd-dead]
mode = dns
listen = 127.0.0.1:$P4
upstream = 127.0.0.1:$DEAD
upstream_timeout = 300ms
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }

# dig over UDP: records, both A records, AAAA with its TTL, a CNAME chain followed
check dig_a test "$(dig_at "$P" +short api.test | sort | tr '\n' ' ')" = "127.0.0.1 127.0.0.3 "
out=$(dig_at "$P" api.test AAAA +noall +answer)
check dig_aaaa_ttl grep -Eq 'api\.test\.[[:space:]]+30[[:space:]]+IN[[:space:]]+AAAA[[:space:]]+::1' <<<"$out"
out=$(dig_at "$P" deep.test A +noall +answer)
check dig_cname_chain bash -c 'grep -q "deep.test.*CNAME.*www.test" <<<"$1" && grep -q "www.test.*CNAME.*api.test" <<<"$1" && grep -q "api.test.*A.*127.0.0.1" <<<"$1"' _ "$out"
out=$(dig_at "$P" api.test)
check dig_authoritative grep -q 'flags: qr aa rd ra' <<<"$out"
check dig_case_insensitive test "$(dig_at "$P" +short API.Test. | wc -l)" = 2
# a name with records but not of the type asked: NOERROR with no answer (NODATA)
out=$(dig_at "$P" v6only.test A)
check dig_nodata bash -c 'grep -q "status: NOERROR" <<<"$1" && grep -q "ANSWER: 0" <<<"$1"' _ "$out"
check dig_nxdomain grep -q 'status: NXDOMAIN' <<<"$(dig_at "$P" nope.test)"
check dig_refused_fallback grep -q 'status: REFUSED' <<<"$(dig_at "$P2" nope.test)"
check dig_strict_record test "$(dig_at "$P2" +short only.test)" = 10.1.2.3
# TCP: the same answers, framed
check dig_tcp test "$(dig_at "$P" +tcp +short api.test AAAA)" = ::1
out=$(dig_at "$P" +tcp api.test)
check dig_tcp_transport grep -q '(TCP)' <<<"$out"

# forwarding: names without records go to the upstream (the first proxy) and come back as it answered
check fwd_local test "$(dig_at "$P3" +short local.test)" = 10.9.9.9
check fwd_upstream_a test "$(dig_at "$P3" +short api.test | sort | tr '\n' ' ')" = "127.0.0.1 127.0.0.3 "
check fwd_upstream_nxdomain grep -q 'status: NXDOMAIN' <<<"$(dig_at "$P3" nope.test)"
check fwd_over_tcp test "$(dig_at "$P3" +tcp +short api.test AAAA)" = ::1
t0=$(date +%s%N)
out=$(dig_at "$P4" some.test)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check fwd_timeout_servfail grep -q 'status: SERVFAIL' <<<"$out"
check fwd_timeout_time within "$ms" 250 1500

# dnspython's Resolver and Node's dns.Resolver (c-ares)
if [ -n "$DPY" ]; then
    check dnspython_a test "$(dnsq "$P" resolve api.test)" = "ok 127.0.0.1,127.0.0.3"
    check dnspython_aaaa test "$(dnsq "$P" resolve api.test AAAA)" = "ok ::1"
    check dnspython_nxdomain test "$(dnsq "$P" resolve nope.test)" = nxdomain
    check dnspython_refused test "$(dnsq "$P2" resolve nope.test A 1)" = refused
    check dnspython_fwd test "$(dnsq "$P3" resolve www.test)" = "ok 127.0.0.1,127.0.0.3"
else
    echo "# skip: no python3 with dnspython (apt-get install python3-dnspython)"
fi
if command -v node >/dev/null 2>&1; then
    check node_a test "$(nodeq "$P" api.test)" = "ok 127.0.0.1,127.0.0.3"
    check node_cname test "$(nodeq "$P" deep.test)" = "ok 127.0.0.1,127.0.0.3"
    check node_nxdomain test "$(nodeq "$P" nope.test)" = ENOTFOUND
else
    echo "# skip: node not installed"
fi

# /stats: the dns object counts by transport and rcode
ST=$(curl -s -m 5 "http://127.0.0.1:$AP/stats")
echo "# $(jq -c '.proxies.names.dns' <<<"$ST")"
check stats_records test "$(jq -r '.proxies.names.dns.records' <<<"$ST")" = 6
check stats_tcp eval '[ "$(jq -r ".proxies.names.dns.tcp" <<<"$ST")" -ge 2 ]'
check stats_nxdomain eval '[ "$(jq -r ".proxies.names.dns.rcode.NXDOMAIN" <<<"$ST")" -ge 2 ]'
check stats_forwarded eval '[ "$(jq -r ".proxies.fwd.dns.forwarded" <<<"$ST")" -ge 4 ]'
check stats_upstream_timeouts test "$(jq -r '.proxies["fwd-dead"].dns.upstream_timeouts' <<<"$ST")" = 1
check log_query grep -q 'event=dns_query proxy=names .*name=api.test type=A rcode=NOERROR' "$TT/fl.log"

# a reload changes a record in place (the listener stays)
sed -i 's/^record = api.test A 127.0.0.3$/record = api.test A 127.0.0.4/' "$TT/p.ini"
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload' "$TT/fl.log"
wait_for 5 eval '[ "$(dig_at "$P" +short api.test | sort | tr "\n" " ")" = "127.0.0.1 127.0.0.4 " ]'
check reload_record test "$(dig_at "$P" +short api.test | sort | tr '\n' ' ')" = "127.0.0.1 127.0.0.4 "
check reload_same_port test "$(dig_at "$P" +tcp +short www.test | tr "\n" " ")" = "api.test. 127.0.0.1 127.0.0.4 "

# bad values: `faultline check` exits 2 naming the line and the key
bad() {   # bad NAME LINE-TEXT EXPECTED-MESSAGE [proxy|fault]
    local name=$1 ln=$2 want=$3
    printf '[faultline]\nadmin = off\n[proxy d]\nmode = dns\nlisten = 127.0.0.1:5399\n%s\n' "$ln" >"$TT/bad.ini"
    out=$("$FL" check "$TT/bad.ini" 2>&1); rc=$?
    check "check_$name" bash -c '[ "$1" = 2 ] && grep -qF -- "$2" <<<"$3"' _ "$rc" "bad.ini:6: $want" "$out" || echo "# $out"
}
bad record_type 'record = a.test MX mail.test' "record: type 'MX' is not A, AAAA or CNAME"
bad record_addr 'record = a.test A 300.1.1.1' "record: '300.1.1.1' is not an IPv4 address"
bad record_aaaa 'record = a.test AAAA 10.0.0.1' "record: '10.0.0.1' is not an IPv6 address"
bad record_name 'record = a..test A 10.0.0.1' "record: 'a..test' is not a host name"
bad record_ttl 'record = a.test A 10.0.0.1 -5' "record: TTL '-5' is not 0..2147483647 seconds"
bad record_form 'record = a.test' "record: 'a.test' is not 'NAME TYPE VALUE [TTL]'"
bad fallback 'fallback = servfail' "fallback: 'servfail' is not nxdomain or refused"
bad upstream_name 'upstream = dns.example:53' "upstream: a dns proxy forwards to an IP address and port"
bad upstream_timeout 'upstream_timeout = 2m' "upstream_timeout: 1ms..60s"
bad tls 'upstream_tls = on' "upstream_tls: a dns proxy serves plain DNS over UDP and TCP (no TLS)"
badf() {   # badf NAME FAULT-LINES LINE EXPECTED
    printf '[faultline]\nadmin = off\n[proxy d]\nmode = dns\nlisten = 127.0.0.1:5399\n[proxy t]\nlisten = 127.0.0.1:5398\nupstream = 127.0.0.1:1\n[fault f]\n%b\n' "$2" >"$TT/badf.ini"
    out=$("$FL" check "$TT/badf.ini" 2>&1); rc=$?
    check "check_$1" bash -c '[ "$1" = 2 ] && grep -qF -- "$2" <<<"$3"' _ "$rc" "badf.ini:$3: [fault f] $4" "$out" || echo "# $out"
}
badf error_rcode 'proxy = d\ntype = dns_error\nrcode = teapot' 12 "rcode: 'teapot' is not nxdomain, servfail, refused, formerr or notimp"
badf delay_missing 'proxy = d\ntype = dns_delay' 9 "delay: required"
badf delay_jitter 'proxy = d\ntype = dns_delay\ndelay = 100ms\njitter = 200ms' 9 "jitter: must be below delay"
badf flip_address 'proxy = d\ntype = dns_flip\naddress = nowhere' 12 "address: 'nowhere' is not an IPv4 or IPv6 address"
badf flip_missing 'proxy = d\ntype = dns_flip' 9 "address: required"
badf match_type 'proxy = d\ntype = dns_drop\nmatch_type = BOGUS' 12 "match_type: 'BOGUS' is not a query type"
badf on_tcp 'proxy = t\ntype = dns_drop' 11 "type 'dns_drop' needs a dns proxy; 't' is mode tcp"
out=$("$FL" check tests/fuzz/corpus/fuzz_profile/dns.ini 2>&1)
check check_good_profile grep -q 'ok (1 proxy, 5 faults)' <<<"$out"
done_tests
