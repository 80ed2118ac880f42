#!/usr/bin/env bash
# Dropping every connection of a proxy drops every one, not just the first: disabling a proxy
# through the admin API (Toxiproxy's "down") must end all its open connections. proxy_close_all
# used to stop after the first connection whose close unlinked it at once (found by ASan as
# connections leaked at the end of `faultline run`).
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 hold
LP=$(free_port); AP=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
[proxy p]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/p.ini"
wait_port "$AP" 10
exec 3<>/dev/tcp/127.0.0.1/$LP 4<>/dev/tcp/127.0.0.1/$LP 5<>/dev/tcp/127.0.0.1/$LP 6<>/dev/tcp/127.0.0.1/$LP
active() { curl -s "http://127.0.0.1:$AP/stats" | python3 -c "import json,sys; j=json.load(sys.stdin); print(j['proxies']['p']['active'] if isinstance(j.get('proxies'),dict) else [x for x in j['proxies'] if x['name']=='p'][0]['active'])" 2>/dev/null; }
wait_for 10 eval '[ "$(active)" = 4 ]'
check four_open [ "$(active)" = 4 ]
curl -s -XPOST "http://127.0.0.1:$AP/proxies/p" -d '{"enabled":false}' >/dev/null
closed=0
for fd in 3 4 5 6; do
    # EOF (or a reset) ends read at once with status 1; a connection left open times out (> 128)
    read -r -t 3 -u $fd _line; rc=$?
    [ "$rc" -gt 0 ] && [ "$rc" -le 128 ] && closed=$((closed + 1))
done
check all_four_dropped [ "$closed" = 4 ]
check none_active eval '[ "$(active)" = 0 ]'
exec 3>&- 4>&- 5>&- 6>&-
done_tests
