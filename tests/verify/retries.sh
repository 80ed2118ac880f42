#!/usr/bin/env bash
# retries judged from a real record, real retrying clients (urllib3 Retry, tests/verify/
# retry_client.py) through http proxies with an http_error 503 fault from 2s to 7s:
#   storm    5 retries at once (6 attempts per call)            by fingerprint: FAIL (attempts)
#   flat     2 retries at once (3 attempts, no pause)           by fingerprint: FAIL (backoff)
#   backoff  2 retries, pauses 0 then 400 ms (urllib3 backoff)  by fingerprint: PASS
#   bodies   no retries, a different body per call, same path   by fingerprint: PASS (each body its own call)
#   corr     identical GETs, X-Correlation-Id per call, 1 retry; the proxy's id_header records it:
#            by id_header PASS at 2 attempts, FAIL at 1; an expectation naming another header: INCONCLUSIVE
#   calm     traffic, fault never applies (probability 0)       INCONCLUSIVE
#   idle     fault, no traffic                                   INCONCLUSIVE
# Plus: the recorded body_hash is FNV-1a 64 of the de-chunked body (a chunked request).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"
. "$(dirname "$0")/../protocols/http_lib.bash"

# urllib3: Debian's python3-urllib3 (scripts/install-deps.sh) for /usr/bin/python3, or the
# python3 first in PATH when it has its own
PYU=""
for py in python3 /usr/bin/python3; do "$py" -c 'import urllib3' 2>/dev/null && { PYU=$py; break; }; done
[ -n "$PYU" ] || { fail urllib3 "no python3 with urllib3 (apt-get install python3-urllib3)"; done_tests; exit; }
start_redis || { fail redis_start "redis-server did not start"; exit 1; }
start_httpup UP || { fail start "httpup"; exit 1; }
PXS="storm flat backoff bodies corr calm idle"
declare -A P
for px in $PXS; do P[$px]=$(free_port); done
{
    echo "[faultline]"; echo "admin = off"; echo "redis = $REDIS_URL"; echo "run = retr1"; echo "instance = i1"
    for px in $PXS; do
        printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\nmode = http\n' "$px" "${P[$px]}" "$UP"
        [ "$px" = corr ] && echo "id_header = X-Correlation-Id"
        printf '[fault %s-503]\nproxy = %s\ntype = http_error\nstatus = 503\nstart = 2s\nduration = 5s\n' "$px" "$px"
        [ "$px" = calm ] && echo "probability = 0"
    done
} >"$TT/p.ini"
: >"$TT/e.ini"
for px in storm flat backoff bodies calm idle; do
    printf '[expect %s]\ncheck = retries\nproxy = %s\nmax_attempts = 3\nbackoff = yes\n' "$px" "$px" >>"$TT/e.ini"
done
cat >>"$TT/e.ini" <<INI
[expect bodies-one]
check = retries
proxy = bodies
max_attempts = 1
[expect corr-id]
check = retries
proxy = corr
id_header = X-Correlation-Id
max_attempts = 2
backoff = yes
[expect corr-id-strict]
check = retries
proxy = corr
id_header = x-correlation-id
max_attempts = 1
[expect corr-other-header]
check = retries
proxy = corr
id_header = X-Request-Id
max_attempts = 2
INI
RC="$PYU $(dirname "$0")/retry_client.py --duration 9 --rate 8 --go $TT/go"
$RC --url "http://127.0.0.1:${P[storm]}/orders" --retries 5 >"$TT/c.storm" 2>&1 &
a=$!
$RC --url "http://127.0.0.1:${P[flat]}/orders" --retries 2 >"$TT/c.flat" 2>&1 &
b=$!
$RC --url "http://127.0.0.1:${P[backoff]}/orders" --retries 2 --backoff 0.2 >"$TT/c.backoff" 2>&1 &
c=$!
$RC --url "http://127.0.0.1:${P[bodies]}/orders" --rate 20 >"$TT/c.bodies" 2>&1 &
d=$!
$RC --url "http://127.0.0.1:${P[corr]}/same" --body none --id-header X-Correlation-Id --retries 1 --backoff 0.1 >"$TT/c.corr" 2>&1 &
e=$!
$RC --url "http://127.0.0.1:${P[calm]}/orders" --retries 2 >"$TT/c.calm" 2>&1 &
f=$!
# python loads slowly on a busy machine: the proxy (and its fault clock) starts once all are ready
wait_for 60 bash -c "[ \$(cat $TT/c.storm $TT/c.flat $TT/c.backoff $TT/c.bodies $TT/c.corr $TT/c.calm | grep -c '^ready') = 6 ]" ||
    fail clients_ready "python clients did not load"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
touch "$TT/go"
# a chunked body: the recorded hash is FNV-1a 64 of the de-chunked body
printf 'first-piece,second-piece' | curl -s --max-time 5 -H 'Transfer-Encoding: chunked' --data-binary @- \
    "http://127.0.0.1:${P[calm]}/hash" >/dev/null
hash_up=$(python3 -c "
h = 0xcbf29ce484222325
for b in b'first-piece,second-piece': h = ((h ^ b) * 0x100000001b3) % 2**64
print('%016x' % h)")
# during the fault: a request answered (503) before its body arrived is recorded once the body
# has passed, with the whole body's hash
for i in $(seq 1 100); do
    rcli xrange fl:run:retr1:faults - + | grep -qx bodies-503 && break
    sleep 0.1
done
exec 7<>"/dev/tcp/127.0.0.1/${P[bodies]}"
printf 'POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n' >&7
sleep 0.5
printf '0123456789' >&7
sleep 0.3
exec 7>&-
wait $a $b $c $d $e $f
for x in storm flat backoff bodies corr calm; do echo "# client $x: $(grep -v '^ready' "$TT/c.$x")"; done
stop_pid "$FL_PID"

hash_rec=$(rcli xrange fl:run:retr1:events:calm - + | grep -A1 -x body_hash | tail -n +2 | sort -u | tr '\n' ' ')
echo "# fnv-1a=$hash_up"
check body_hash_is_fnv1a_of_body bash -c "[ -n '$hash_up' ] && echo '$hash_rec' | grep -qw '$hash_up'"
late=$(rcli xrange fl:run:retr1:events:bodies - + | grep -A30 -x /late | grep -A1 -x body_hash | sed -n 2p)
late_status=$(rcli xrange fl:run:retr1:events:bodies - + | grep -A30 -x /late | grep -A1 -x status | sed -n 2p)
echo "# late body: status=$late_status body_hash=$late"
rcli xrange fl:run:retr1:faults - + | awk '/^(fault|event|at_ms)$/ { k = $0; next } k { printf "%s=%s ", k, $0; if (k == "at_ms") print ""; k = "" }' | grep bodies | sed 's/^/# /'
echo "# bodies requests from $(rcli xrange fl:run:retr1:events:bodies - + | grep -A1 -x req_ms | grep -v -e req_ms -e -- | sort -n | sed -n '1p;$p' | tr '\n' ' ')"
check body_hash_after_early_answer eval '[ "$late" = 50c0aafd8b4330b2 ] && [ "$late_status" = 503 ]'

vverify "$TT/e.ini" retr1 --json "$TT/r.json"
check exit_1 [ "$VRC" = 1 ]
expect_verdict storm FAIL
expect_verdict flat FAIL
expect_verdict backoff PASS
expect_verdict bodies PASS
expect_verdict bodies-one PASS
expect_verdict corr-id PASS
expect_verdict corr-id-strict FAIL
expect_verdict corr-other-header INCONCLUSIVE
expect_verdict calm INCONCLUSIVE
expect_verdict idle INCONCLUSIVE
line() { echo "$VOUT" | grep "^$1 "; }
check storm_6_attempts_by_fingerprint bash -c "echo \"\$1\" | grep -q 'max 6 attempts (POST /orders body [0-9a-f]*), .*(by fingerprint)'" _ "$(line storm)"
check flat_blamed_on_backoff bash -c "echo \"\$1\" | grep -q 'FAIL flat: .*without growing backoff'" _ "$VOUT"
check backoff_3_attempts bash -c "echo \"\$1\" | grep -q 'max 3 attempts'" _ "$(line backoff)"
# every one of ~160 different bodies is its own call: none retried
check bodies_each_its_own_call bash -c "echo \"\$1\" | grep -Eq 'max 1 attempts .*, 0 of 1[0-9]{2} calls retried'" _ "$(line bodies)"
check corr_by_request_id bash -c "echo \"\$1\" | grep -q 'max 2 attempts (GET /same id=.*by request id'" _ "$(line corr-id)"
check other_header_why bash -c "echo \"\$1\" | grep -q 'recorded the header X-Correlation-Id as request_id, not X-Request-Id'" _ "$VOUT"
check json_valid python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['summary']['fail'] == 3" "$TT/r.json"
done_tests
