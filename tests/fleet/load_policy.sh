#!/usr/bin/env bash
# A fleet `load` is held to the instance's reach policy (docs/security.md): the fleet key commands
# faults, it does not widen where an instance may listen or connect. A load whose upstream is a
# unix socket outside unix_dirs (default none: the docker.sock attack of issue 20's H1), a listen
# address off loopback, or an upstream off loopback fails on the instance with the rule's name,
# changes nothing, and a [faultline] section in the loaded text widens nothing; a load within the
# policy applies, and a real client goes through the proxy it made.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
start_peer ECHO 127.0.0.1:0 echo
fleet_start 1 || { fail start "the fleet did not come up"; exit 1; }
NP=$(free_port)
proxies_of() { curl -s -m 5 "$(admin 1)/proxies" | jq -r 'keys | sort | join(" ")'; }
# load_text NAME TEXT: write the profile and load it through the fleet; sets out and rc
load_text() { printf '%s\n' "$2" >"$TT/$1.ini"; out=$(fleet_ctl load "$TT/$1.ini" 2>&1); rc=$?; echo "# $1: rc=$rc $(tr '\n' ' ' <<<"$out")"; }

# --- within the policy: applied, and the new proxy carries a real client's bytes
load_text good "$(px web "$NP" "127.0.0.1:$ECHO")"
check good_rc0 [ "$rc" = 0 ]
check good_applied grep -q '^load: 1 of 1 applied' <<<"$out"
check good_proxy_there [ "$(proxies_of)" = web ]
o=$("$TBIN/flpeer" echo "127.0.0.1:$NP" 1000 2>/dev/null)
check good_forwards [ "$(kv "$o" match)" = yes ]

# --- a unix socket upstream (no unix_dirs): refused on the instance, nothing changed
sock="$TT/other.sock"
python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)" "$sock" &
load_text unix "$(px web "$NP" "127.0.0.1:$ECHO"; px dock "$(free_port)" "unix:$sock")"
check unix_rc1 [ "$rc" = 1 ]
check unix_reason grep -q 'failed .*inst1: forbidden by unix_dirs' <<<"$out"
check unix_nothing_changed [ "$(proxies_of)" = web ]

# --- a listen address off loopback
load_text wide "$(px web "$NP" "127.0.0.1:$ECHO"; printf '[proxy all]\nlisten = 0.0.0.0:%s\nupstream = 127.0.0.1:%s\n' "$(free_port)" "$ECHO")"
check listen_rc1 [ "$rc" = 1 ]
check listen_reason grep -q 'forbidden by api_listen_allow' <<<"$out"
check listen_nothing_changed [ "$(proxies_of)" = web ]

# --- an upstream off loopback (never connected: the refusal comes first)
load_text far "$(px web "$NP" "127.0.0.1:$ECHO"; px far "$(free_port)" 10.255.255.1:80)"
check upstream_rc1 [ "$rc" = 1 ]
check upstream_reason grep -q 'forbidden by api_upstream_allow' <<<"$out"
check upstream_nothing_changed [ "$(proxies_of)" = web ]

# --- the loaded text's own [faultline] policy keys widen nothing
load_text widen "$(printf '[faultline]\napi_upstream_allow = 0.0.0.0/0\napi_listen_allow = 0.0.0.0/0:1-65535\nunix_dirs = /\n'; px web "$NP" "127.0.0.1:$ECHO"; px far "$(free_port)" 10.255.255.1:80)"
check widen_rc1 [ "$rc" = 1 ]
check widen_reason grep -q 'forbidden by api_upstream_allow' <<<"$out"
check widen_nothing_changed [ "$(proxies_of)" = web ]
o=$("$TBIN/flpeer" echo "127.0.0.1:$NP" 1000 2>/dev/null)
check still_forwards [ "$(kv "$o" match)" = yes ]
done_tests
