#!/usr/bin/env bash
# stale_idle: a pooled connection left idle past `idle` is silently dead. A real pooled client
# (requests.Session / urllib3) reuses it -- there was no FIN to tell it -- and its next request
# meets a reset (ConnectionError, "Connection aborted") or, with on_use = drop, a timeout. A
# session that retries once (urllib3 Retry) recovers on a new connection. Use inside `idle` is
# untouched.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"
. "$(dirname "$0")/../protocols/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
fprofile "$TT/p.ini" "$UP" "$LP" '[fault nat]' 'proxy = p' 'type = stale_idle' 'idle = 500ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
# pool PORT RETRIES TIMEOUT: GET, 0.2 s pause, GET, 0.8 s pause, GET; each: X-Req or the error
pool() {
    python3 - "$@" <<'EOF'
import requests, sys, time
from requests.adapters import HTTPAdapter
s = requests.Session()
s.mount("http://", HTTPAdapter(max_retries=int(sys.argv[2])))
out = []
for pause in (0, 0.2, 0.8):
    time.sleep(pause)
    try:
        r = s.get("http://127.0.0.1:%s/" % sys.argv[1], timeout=float(sys.argv[3]))
        out.append("req" + r.headers["X-Req"])
    except requests.exceptions.ConnectionError as e:
        out.append("ConnectionError")
        print("# error: %s" % e)
    except requests.exceptions.Timeout as e:
        out.append("Timeout")
        print("# error: %s" % e)
print("seen=" + ",".join(out))
EOF
}
out=$(pool "$LP" 0 5)
echo "$out"
check stale_idle_fresh_reuse_ok [ "$(kv "$(tail -n1 <<<"$out")" seen | cut -d, -f1-2)" = "req1,req2" ]
check stale_idle_stale_reset [ "$(kv "$(tail -n1 <<<"$out")" seen | cut -d, -f3)" = ConnectionError ]
check stale_idle_error_is_reset grep -q "Connection aborted.*ConnectionResetError\|Connection reset" <<<"$out"
out=$(pool "$LP" 1 5)
echo "$out"
check stale_idle_retry_recovers [ "$(kv "$(tail -n1 <<<"$out")" seen)" = "req1,req2,req1" ]

fprofile "$TT/p.ini" "$UP" "$LP" '[fault nat]' 'proxy = p' 'type = stale_idle' 'idle = 500ms' 'on_use = drop'
reload || fail reload "no reload"
out=$(pool "$LP" 0 1)
echo "$out"
check stale_idle_drop_times_out [ "$(kv "$(tail -n1 <<<"$out")" seen | cut -d, -f3)" = Timeout ]
fprofile "$TT/p.ini" "$UP" "$LP"
reload || fail reload "no reload"
check stale_idle_resets_counted grep -q 'event=fault_removed fault=nat .*resets=[1-9]' "$FL_LOG"
done_tests
