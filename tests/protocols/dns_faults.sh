#!/usr/bin/env bash
# mode = dns faults, each seen by real resolvers: dns_error (NXDOMAIN, SERVFAIL, REFUSED: what
# dig, dnspython and Node report), dns_delay (a slow answer: dig's time, a resolver whose timeout
# is shorter gives up), dns_drop (no answer: resolvers time out), dns_truncate (TC over UDP: dig,
# dnspython and Node retry over TCP and get the records), dns_flip (after N queries, and added
# live through the admin API: a caching resolver keeps the old address until the TTL runs out,
# then re-resolves the new one), probability and match_type.
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
record = nx.test A 127.0.0.1
record = sf.test A 127.0.0.1
record = ref.test A 127.0.0.1
record = slow.test A 127.0.0.1
record = gone.test A 127.0.0.1
record = tc.test A 127.0.0.9
record = tc.test AAAA ::9
record = flip.test A 127.0.0.1
record = live.test A 127.0.0.1 2
record = never.test A 127.0.0.1
record = six.test A 127.0.0.1
record = six.test AAAA ::1
[fault nx]
proxy = names
type = dns_error
rcode = nxdomain
match_name = nx.*
[fault sf]
proxy = names
type = dns_error
match_name = sf.test
[fault ref]
proxy = names
type = dns_error
rcode = refused
match_name = ref.test
[fault slow]
proxy = names
type = dns_delay
delay = 800ms
match_name = slow.test
[fault gone]
proxy = names
type = dns_drop
match_name = gone.test
[fault tc]
proxy = names
type = dns_truncate
match_name = tc.test
[fault flip]
proxy = names
type = dns_flip
address = 127.0.0.2
after = 2
match_name = flip.test
[fault never]
proxy = names
type = dns_error
probability = 0
match_name = never.test
[fault six]
proxy = names
type = dns_drop
match_name = six.test
match_type = AAAA
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
A="http://127.0.0.1:$AP"

# dns_error: the rcode, for a name that has records; other names unaffected
check error_nxdomain grep -q 'status: NXDOMAIN' <<<"$(dig_at "$P" nx.test)"
check error_servfail grep -q 'status: SERVFAIL' <<<"$(dig_at "$P" sf.test)"
check error_refused grep -q 'status: REFUSED' <<<"$(dig_at "$P" ref.test)"
check error_tcp_too grep -q 'status: NXDOMAIN' <<<"$(dig_at "$P" +tcp nx.test)"
check error_others_fine test "$(dig_at "$P" +short api.test)" = 127.0.0.1
check error_probability_0 test "$(dig_at "$P" +short never.test)" = 127.0.0.1
if [ -n "$DPY" ]; then
    check dnspython_nxdomain test "$(dnsq "$P" resolve nx.test)" = nxdomain
    check dnspython_servfail test "$(dnsq "$P" resolve sf.test A 1)" = servfail
fi
if command -v node >/dev/null 2>&1; then
    check node_nxdomain test "$(nodeq "$P" nx.test)" = ENOTFOUND
    check node_servfail test "$(nodeq "$P" sf.test)" = ESERVFAIL
    check node_refused test "$(nodeq "$P" ref.test)" = EREFUSED
fi

# dns_delay: the answer comes, late; a resolver with a shorter timeout gives up
t0=$(date +%s%N)
out=$(dig_at "$P" +short slow.test)
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check delay_answer test "$out" = 127.0.0.1
check delay_time within "$ms" 750 2000
if [ -n "$DPY" ]; then
    check dnspython_delay_timeout test "$(dnsq "$P" resolve slow.test A 0.3)" = timeout
    check dnspython_delay_patient test "$(dnsq "$P" resolve slow.test A 3)" = "ok 127.0.0.1"
fi
command -v node >/dev/null 2>&1 && check node_delay_timeout test "$(nodeq "$P" slow.test 300)" = ETIMEOUT

# dns_drop: no answer at all
out=$(timeout 20 dig @127.0.0.1 -p "$P" +time=1 +tries=1 gone.test 2>&1)
check drop_dig_timeout grep -Eq 'timed out|no servers could be reached' <<<"$out"
[ -n "$DPY" ] && check dnspython_drop_timeout test "$(dnsq "$P" resolve gone.test A 0.5)" = timeout
command -v node >/dev/null 2>&1 && check node_drop_timeout test "$(nodeq "$P" gone.test 300)" = ETIMEOUT
# match_type: only the AAAA query of six.test is dropped
check match_type_a test "$(dig_at "$P" +short six.test A)" = 127.0.0.1
check match_type_aaaa grep -Eq 'timed out|no servers' <<<"$(timeout 20 dig @127.0.0.1 -p "$P" +time=1 +tries=1 six.test AAAA 2>&1)"

# dns_truncate: over UDP the TC bit and no records; clients retry over TCP, where it does not act
out=$(dig_at "$P" tc.test)
check tc_dig_retries grep -q 'Truncated, retrying in TCP mode' <<<"$out"
check tc_dig_tcp_answer grep -Eq 'tc\.test\..*IN[[:space:]]+A[[:space:]]+127\.0\.0\.9' <<<"$out"
out=$(dig_at "$P" +ignore tc.test)
check tc_dig_ignore bash -c 'grep -q "flags: qr aa tc" <<<"$1" && grep -q "ANSWER: 0" <<<"$1"' _ "$out"
if [ -n "$DPY" ]; then
    check tc_dnspython_raw_udp grep -q 'flags=QR|AA|TC|RD|RA answers=-' <<<"$(dnsq "$P" udp tc.test)"
    check tc_dnspython_resolver test "$(dnsq "$P" resolve tc.test AAAA)" = "ok ::9"
fi
command -v node >/dev/null 2>&1 && check tc_node_resolver test "$(nodeq "$P" tc.test)" = "ok 127.0.0.9"

# dns_flip after = 2: two answers as before, then the other address
f1=$(dig_at "$P" +short flip.test); f2=$(dig_at "$P" +short flip.test); f3=$(dig_at "$P" +short flip.test)
check flip_after_n test "$f1 $f2 $f3" = "127.0.0.1 127.0.0.1 127.0.0.2"

# dns_flip added live through the admin API: a caching resolver (dnspython's Cache) keeps the old
# address until the record's TTL (2 s) runs out, then asks again and gets the new one
if [ -n "$DPY" ]; then
    dnsq "$P" cached live.test 7 0.2 >"$TT/cached.out" &
    CPID=$!; _PIDS+=($CPID)
    wait_for 10 test -s "$TT/cached.out"          # its first answer is cached (python may start slowly)
    sleep 0.5
    CODE=$(curl -s -m 5 -o "$TT/post" -w '%{http_code}' -XPOST "$A/faults" \
        -d '{"name":"live","type":"dns_flip","proxy":"names","match_name":"live.test","address":"127.0.0.7"}')
    check flip_api_created test "$CODE" = 201 || cat "$TT/post"
    check flip_api_dig_now test "$(dig_at "$P" +short live.test)" = 127.0.0.7
    wait "$CPID"
    echo "# $(tr '\n' ';' <"$TT/cached.out")"
    check flip_cached_first test "$(sed -n 1p "$TT/cached.out" | cut -d' ' -f2-)" = "ok 127.0.0.1"
    check flip_cached_then_new test "$(sed -n 2p "$TT/cached.out" | cut -d' ' -f2-)" = "ok 127.0.0.7"
    # the switch shows only after the cached answer expired: at least ~2 s after the first lookup
    check flip_cached_after_ttl within "$(sed -n 2p "$TT/cached.out" | cut -d' ' -f1)" 1.9 4.5
    check flip_cached_two_answers test "$(wc -l <"$TT/cached.out")" = 2
fi

# the fault counters in /stats, and the query log lines
ST=$(curl -s -m 5 "$A/stats")
echo "# $(jq -c '.proxies.names.dns' <<<"$ST")"
check stats_flip_counts test "$(jq -r '.proxies.names.faults.flip.conns_affected' <<<"$ST")" -ge 1
check stats_dropped eval '[ "$(jq -r ".proxies.names.dns.dropped" <<<"$ST")" -ge 2 ]'
check stats_truncated eval '[ "$(jq -r ".proxies.names.dns.truncated" <<<"$ST")" -ge 3 ]'
check stats_never_seen test "$(jq -r '.proxies.names.faults.never.conns_affected' <<<"$ST")" = 0
check log_fault grep -q 'event=dns_query proxy=names .*name=gone.test type=A rcode=- fault=gone end=dropped' "$TT/fl.log"
done_tests
