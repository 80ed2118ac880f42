#!/usr/bin/env bash
# L3 (issue 20): durations, sizes and numbers too large to hold are an error naming the key,
# in a profile and through the admin API -- never a wrapped value. Values up to 2^63 us were
# taken (106751d), and the sums the daemon makes of them -- start + duration, arrival + delay +
# jitter, start + max_fault_duration -- overflowed int64_t (undefined behaviour in C).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

# checkbad NAME LINE KEY TEXT: faultline check refuses the profile at LINE naming KEY
checkbad() {
    local n=$1 line=$2 key=$3 out rc
    out=$("$FL" check "$TT/b.ini" 2>&1); rc=$?
    if [ "$rc" = 2 ] && grep -q "b.ini:$line: .*$key: .*too large" <<<"$out"; then pass "$n"; else fail "$n" "exit $rc: $out"; fi
}
for kv in "start = 106751d" "duration = 106751d" "ttl = 106751d" "delay = 106751d" "delay = 99999999999d" \
          "delay = 0x1p62us" "delay = 9.2e18us"; do
    key=${kv%% *}
    printf '[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[fault f]\nproxy = a\ntype = latency\n%s\n' "$kv" >"$TT/b.ini"
    checkbad "fault_${key}_${kv##* }_refused" 7 "$key"
done
for kv in "drain = 106751d" "max_fault_duration = 106751d" "retention = 200000d" "record_interval = 106751d"; do
    printf '[faultline]\n%s\n' "$kv" >"$TT/b.ini"
    checkbad "global_${kv%% *}_refused" 2 "${kv%% *}"
done
for kv in "rate = 18446744073709551615" "rate = 20000000GiB"; do
    printf '[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[fault f]\nproxy = a\ntype = bandwidth\n%s\n' "$kv" >"$TT/b.ini"
    checkbad "size_${kv##* }_refused" 7 rate
done
printf '[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[fault f]\nproxy = a\ntype = latency\nstart = 36500d\ndelay = 1ms\n' >"$TT/b.ini"
check largest_duration_accepted "$FL" check "$TT/b.ini"

# through the admin API: 400 naming the key; nothing is created, nothing acts
start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/p.ini" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
req POST /faults '{"name":"wrap","type":"latency","proxy":"db","delay":"300ms","start":"106751d"}'
expect api_start_overflow_400 400 '(.error | test("start: .*too large"))'
req POST /faults '{"name":"wrap2","type":"hang","proxy":"db","ttl":"106751d"}'
expect api_ttl_overflow_400 400 '(.error | test("ttl: .*too large"))'
req POST /proxies/db/toxics '{"name":"big","type":"latency","attributes":{"latency":9000000000000000}}'
expect toxiproxy_latency_overflow_400 400 '(.error | test("delay: .*too large"))'
req POST /proxies/db/toxics '{"name":"big","type":"bandwidth","attributes":{"rate":9000000000000000}}'
expect toxiproxy_rate_overflow_400 400 '(.error | test("rate: .*too large"))'
req GET /faults
expect nothing_created 200 'length == 0'
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 100)
check data_path_not_delayed within "$(kv "$out" ms)" 0 250
done_tests
