#!/usr/bin/env bash
# mode = dns takes only the fault types that can act on it: its own (dns_*) and refuse. Every type
# that acts on a connection's TCP bytes or on an http request (latency, bandwidth, slicer, reset,
# timeout, hang, corrupt, close_after, ...) has nothing to act on there, and is refused where a
# fault can come from: `faultline check` (exit 2, PATH:LINE at the type), the admin API's
# POST /faults and PUT /faults/NAME (400 with a JSON error), and the Toxiproxy API's toxics
# (400). The refusal comes from the protocol's accepts hook (proxy/protocols/dns.c).
cd "$(dirname "$0")/../.."
source tests/lib.sh

P=$(free_port); AP=$(free_port)
dnsprof() {  # dnsprof FILE TYPE [KEY=VALUE...]: a dns proxy and one fault; the type is on line 9
    local f=$1 t=$2; shift 2
    { printf '[faultline]\nadmin = 127.0.0.1:%s\n[proxy names]\nmode = dns\nlisten = 127.0.0.1:%s\n' "$AP" "$P"
      printf 'record = api.test A 127.0.0.1\n[fault x]\nproxy = names\ntype = %s\n' "$t"
      for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done; } >"$f"
}
refused() {  # refused TYPE [KEY=VALUE...]
    local t=$1; shift
    dnsprof "$TT/$t.ini" "$t" "$@"
    "$FL" check "$TT/$t.ini" >"$TT/$t.err" 2>&1; local rc=$?
    if [ "$rc" = 2 ] && grep -q "$t.ini:9: \[fault x\] type '$t' does not act on a dns proxy.*'names' is mode dns" "$TT/$t.err"
    then pass "check_refuses_$t"; else fail "check_refuses_$t" "rc=$rc $(cat "$TT/$t.err")"; fi
}
refused latency delay=100ms
refused bandwidth rate=1KiB
refused slicer size=10 delay=1ms
refused reset
refused timeout timeout=1s
refused hang
refused drop
refused blackhole
refused slow_close delay=1s
refused limit_data bytes=10
refused loss p=1%
refused corrupt per_byte=1%
refused close_after age=1s
refused stale_idle idle=1s
refused connect_delay delay=1s
# the types made for a dns proxy, and refuse, pass
for t in "dns_delay delay=100ms" "dns_drop" "dns_error" "dns_truncate" "dns_flip address=127.0.0.2" "refuse"; do
    dnsprof "$TT/ok.ini" $t
    "$FL" check "$TT/ok.ini" >"$TT/ok.err" 2>&1
    check "check_accepts_${t%% *}" test $? = 0
done
# a dns type elsewhere keeps its message
{ printf '[proxy t]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:1\n[fault x]\nproxy = t\ntype = dns_drop\n' "$P"; } >"$TT/tcp.ini"
"$FL" check "$TT/tcp.ini" >"$TT/tcp.err" 2>&1; rc=$?
check check_dns_type_on_tcp eval '[ $rc = 2 ] && grep -q "tcp.ini:6: \[fault x\] type .dns_drop. needs a dns proxy; .t. is mode tcp" "$TT/tcp.err"'

# the admin API: the same refusal as a 400 with a JSON error; the proxy keeps answering
dnsprof "$TT/run.ini" dns_delay delay=1ms match_name=none.test
start_fl "$TT/run.ini" || { fail start "no faultline"; done_tests; exit; }
wait_port "$AP" 10
api() { curl -s -o "$TT/body" -w '%{http_code}' -X "$1" "http://127.0.0.1:$AP$2" -H 'Content-Type: application/json' -d "$3"; }
for tk in 'latency,"delay":"1s"' 'bandwidth,"rate":"1KiB"' 'slicer,"size":"10","delay":"1ms"' 'reset,"x":"1"' \
          'timeout,"timeout":"1s"' 'corrupt,"per_byte":"1%"' 'close_after,"age":"1s"'; do
    t=${tk%%,*}; k=${tk#*,}; [ "$t" = reset ] && k='"direction":"both"'
    code=$(api POST /faults "{\"name\":\"a-$t\",\"proxy\":\"names\",\"type\":\"$t\",$k}")
    echo "# $t: $code $(cat "$TT/body")"
    check "api_refuses_$t" eval '[ "$code" = 400 ] && jq -e ".error | test(\"does not act on a dns proxy\")" "$TT/body" >/dev/null'
done
code=$(api POST /faults '{"name":"a-refuse","proxy":"names","type":"refuse","duration":"1s"}')
check api_accepts_refuse test "${code:0:1}" = 2
code=$(api POST /faults '{"name":"a-delay","proxy":"names","type":"dns_delay","delay":"10ms","match_name":"x.test"}')
check api_accepts_dns_delay test "${code:0:1}" = 2
# a PATCH that would turn a dns fault into a tcp-level one
code=$(api PATCH /faults/a-delay '{"type":"latency","match_name":null}')
echo "# patch: $code $(cat "$TT/body")"
check api_patch_refuses eval '[ "$code" = 400 ] && grep -q "dns proxy" "$TT/body"'
code=$(api GET /faults '')
check api_lists_no_refused eval '! jq -e ".[]? | select(.name | startswith(\"a-l\"))" "$TT/body" >/dev/null 2>&1 && ! grep -q "a-latency" "$TT/body"'
# the Toxiproxy API: a toxic on a dns proxy
code=$(api POST /proxies/names/toxics '{"name":"t-lat","type":"latency","attributes":{"latency":100}}')
check toxi_refuses_latency eval '[ "$code" = 400 ] && grep -q "does not act on a dns proxy" "$TT/body"'
echo "# toxi: $code $(cat "$TT/body")"
done_tests
