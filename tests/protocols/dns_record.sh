#!/usr/bin/env bash
# mode = dns in the record: every query is one `kind=request` event (name, qtype, rcode, answer,
# fault, transport, timing, end) in the proxy's events stream, the fault's window is in the run's
# fault stream, and the dns totals are in the proxy's totals hash; a query still delayed when
# faultline stops is recorded as inflight: real redis-server, dig.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/verify/common.bash
source tests/protocols/dns_lib.bash
need_dig

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
P=$(free_port); U=$(free_port)
cat >"$TT/p.ini" <<EOT
[faultline]
admin = off
log = info
redis = $REDIS_URL
run = dr
instance = i1
[proxy names]
mode = dns
listen = 127.0.0.1:$P
upstream = 127.0.0.1:$U
record = api.test A 127.0.0.1
record = api.test AAAA ::1
record = slow.test A 127.0.0.1
[proxy up]
mode = dns
listen = 127.0.0.1:$U
record = far.test A 10.0.0.1
[fault slow]
proxy = names
type = dns_delay
delay = 300ms
match_name = slow.test
[fault held]
proxy = names
type = dns_delay
delay = 30s
match_name = held.test
[fault gone]
proxy = names
type = dns_drop
match_name = gone.test
[fault sf]
proxy = names
type = dns_error
rcode = servfail
match_name = sf.test
EOT
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
dig_at "$P" +short api.test >/dev/null
dig_at "$P" +tcp +short api.test AAAA >/dev/null
dig_at "$P" +short slow.test >/dev/null
dig_at "$P" +short sf.test >/dev/null
dig_at "$P" +short far.test >/dev/null
timeout 10 dig @127.0.0.1 -p "$P" +time=1 +tries=1 gone.test >/dev/null 2>&1
# a query still delayed when faultline stops: recorded as inflight, freed (ASan: no leak)
timeout 10 dig @127.0.0.1 -p "$P" +time=5 +tries=1 held.test >/dev/null 2>&1 &
_PIDS+=($!)
sleep 1.5
stop_pid "$FL_PID"

rcli xrange fl:run:dr:events:names - + >"$TT/events"
python3 - "$TT/events" >"$TT/ev.txt" <<'EOF'
import sys
lines = open(sys.argv[1]).read().split('\n')
out, cur = [], None
for l in lines:
    if '-' in l and l.replace('-', '').isdigit():
        if cur: out.append(cur)
        cur = []
    elif cur is not None:
        cur.append(l)
if cur: out.append(cur)
for e in out:
    print(' '.join('%s=%s' % (e[i], e[i + 1].replace(' ', '_')) for i in range(0, len(e) - 1, 2)))
EOF
sed 's/^/# /' "$TT/ev.txt"
# has EVENT key=value...: every field has that value ("key=" = absent)
has() { local e=$1 kvp; shift; for kvp; do [ "$(kv "$e" "${kvp%%=*}")" = "${kvp#*=}" ] || return 1; done; }
ev() { grep "kind=request" "$TT/ev.txt" | grep " name=$1 " | grep " qtype=$2 " | head -n1; }
a=$(ev api.test A)
check event_a_fields has "$a" rcode=NOERROR answer=127.0.0.1 transport=udp end=done
check event_a_times test -n "$(kv "$a" req_ms)" -a -n "$(kv "$a" total_ms)" -a -n "$(kv "$a" peer)"
aaaa=$(ev api.test AAAA)
check event_aaaa_tcp has "$aaaa" transport=tcp answer=::1
slow=$(ev slow.test A)
check event_delay_fault test "$(kv "$slow" fault)" = slow
check event_delay_total within "$(kv "$slow" total_ms)" 280 1500
sf=$(ev sf.test A)
check event_servfail has "$sf" rcode=SERVFAIL fault=sf
far=$(ev far.test A)
check event_forwarded has "$far" forwarded=1 rcode=NOERROR
gone=$(ev gone.test A)
check event_dropped has "$gone" end=dropped fault=gone rcode=
check event_inflight_at_stop has "$(ev held.test A)" end=inflight fault=held rcode=
check event_generic_fields has "$a" method=A path=api.test
check faults_stream grep -q 'slow' <<<"$(rcli xrange fl:run:dr:faults - +)"
check totals_queries test "$(rcli hget fl:run:dr:proto:names:i1 dns_queries)" = 7
check totals_dropped test "$(rcli hget fl:run:dr:proto:names:i1 dns_dropped)" = 1
check totals_forwarded test "$(rcli hget fl:run:dr:proto:names:i1 dns_forwarded)" = 1
done_tests
