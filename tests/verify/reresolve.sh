#!/usr/bin/env bash
# check = reresolve from a real record: three dns proxies, each given a dns_flip of live.test
# through the admin API once the clients resolved the name. Behind "good", a caching resolver (dnspython's Cache, TTL 1 s) asks every 0.2 s: it asks
# again after the change -> PASS. Behind "bad", a client that resolves once at start and keeps
# the address -> FAIL. Behind "idle", nobody asks -> INCONCLUSIVE. `within` is required.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/verify/common.bash
source tests/protocols/dns_lib.bash
[ -n "$DPY" ] || { echo "# skip: no python3 with dnspython (apt-get install python3-dnspython)"; done_tests; exit; }

start_redis || { fail redis_start "redis-server did not start"; done_tests; exit; }
G=$(free_port); B=$(free_port); I=$(free_port); AP=$(free_port)
{ printf '[faultline]\nadmin = 127.0.0.1:%s\nlog = info\nredis = %s\nrun = rr\ninstance = i1\nrecord_interval = 200ms\n' "$AP" "$REDIS_URL"
  for px in good:$G bad:$B idle:$I; do
      printf '[proxy %s]\nmode = dns\nlisten = 127.0.0.1:%s\nrecord = live.test A 127.0.0.1 1\n' "${px%%:*}" "${px#*:}"
  done
} >"$TT/p.ini"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
wait_port "$AP" 10
dnsq "$G" cached live.test 7 0.2 >"$TT/good.out" &
GP=$!; _PIDS+=($GP)
dnsq "$B" resolve live.test >"$TT/bad.out"
wait_for 10 test -s "$TT/good.out"
for px in good bad idle; do
    curl -s -m 5 -o /dev/null -XPOST "http://127.0.0.1:$AP/faults" \
        -d "{\"name\":\"flip-$px\",\"type\":\"dns_flip\",\"proxy\":\"$px\",\"match_name\":\"live.test\",\"address\":\"127.0.0.2\"}"
done
wait "$GP"
sleep 2.5                                        # the record goes on past `within` for "bad"
stop_pid "$FL_PID"
echo "# good: $(tr '\n' ';' <"$TT/good.out") bad: $(cat "$TT/bad.out")"
check good_client_switched grep -q 'ok 127.0.0.2' "$TT/good.out"

{ printf '[expect good]\ncheck = reresolve\nproxy = good\nname = live.test\nwithin = 2s\n'
  printf '[expect bad]\ncheck = reresolve\nproxy = bad\nname = live.test\nwithin = 2s\n'
  printf '[expect idle]\ncheck = reresolve\nproxy = idle\nname = live.test\nwithin = 2s\n'
} >"$TT/e.ini"
vverify "$TT/e.ini" rr
expect_verdict good PASS
expect_verdict bad FAIL
expect_verdict idle INCONCLUSIVE
check bad_says_kept grep -q 'kept the old address of live.test' <<<"$VOUT"
printf '[expect x]\ncheck = reresolve\nproxy = good\nname = live.test\n' >"$TT/bad.ini"
out=$("$FL" check "$TT/bad.ini" 2>&1); rc=$?
check within_required bash -c '[ "$1" = 2 ] && grep -q "bad.ini:1: .*within" <<<"$2"' _ "$rc" "$out" || echo "# $out"
printf '[expect x]\ncheck = reresolve\nproxy = good\nwithin = 2s\n' >"$TT/bad2.ini"
out=$("$FL" check "$TT/bad2.ini" 2>&1); rc=$?
check name_required bash -c '[ "$1" = 2 ] && grep -q "needs .name." <<<"$2"' _ "$rc" "$out" || echo "# $out"
done_tests
