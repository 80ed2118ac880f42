#!/usr/bin/env bash
# `faultline toxiproxy-server` (and the binary run as `toxiproxy-server`): Toxiproxy's flags
# (-host, -port, -config with toxics inside, -seed, -proxy-metrics, -runtime-metrics, -version,
# Go's -flag=value and --flag forms), /version and /metrics as toxiproxy-server answers, populate
# with toxics through the API (all or nothing), and the admin API's security defaults
# (a non-loopback -host needs a token).
. "$(dirname "$0")/../lib.sh"

start_peer ECHO 127.0.0.1:0 echo
AP=$(free_port)
PP=$(free_port)
FLBIN=$FL
case "$FLBIN" in /*) ;; *) FLBIN="$PWD/$FLBIN" ;; esac
ln -s "$FLBIN" "$TT/toxiproxy-server"

# rtt PORT: ms of one round trip through 127.0.0.1:PORT
rtt() {
    python3 - "$1" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
t = time.monotonic(); s.sendall(b"x"); s.recv(1)
print(int((time.monotonic() - t) * 1000))
PY
}

out=$("$TT/toxiproxy-server" -version)
check version_flag [ "${out%% (*}" = "toxiproxy-server version 2.12.0" ]
"$FL" toxiproxy-server -nosuch >"$TT/o" 2>&1
check unknown_flag_exit_2 [ $? = 2 ]
check unknown_flag_message grep -q 'flag provided but not defined: -nosuch' "$TT/o"
"$FL" toxiproxy-server -help >"$TT/o" 2>&1
check help_exit_0 [ $? = 0 ]
check help_lists_flags grep -q -- '-config string' "$TT/o"
"$FL" toxiproxy-server -seed xyz >"$TT/o" 2>&1
check bad_seed_exit_2 [ $? = 2 ]
"$FL" toxiproxy-server -host 0.0.0.0 -port "$AP" >"$TT/o" 2>&1
check nonloopback_without_token_refused bash -c "grep -q 'not a loopback address and no admin_token' '$TT/o'"

cat >"$TT/cfg.json" <<JSON
[{"name": "echo", "listen": "127.0.0.1:$PP", "upstream": "127.0.0.1:$ECHO",
  "toxics": [{"type": "latency", "attributes": {"latency": 300}},
             {"name": "tiny", "type": "slicer", "stream": "upstream", "attributes": {"average_size": 1, "delay": 10}}]},
 {"name": "off", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:$ECHO", "enabled": false}]
JSON
"$TT/toxiproxy-server" --host=localhost -port="$AP" -config "$TT/cfg.json" -seed 7 -proxy-metrics -runtime-metrics=true 2>"$TT/fl.log" &
FL_PID=$!
_PIDS+=($FL_PID)
wait_port "$AP" 10 || { fail start "$(cat "$TT/fl.log")"; exit 1; }
A="http://127.0.0.1:$AP"
v=$(curl -s -m 5 "$A/version")
check version_json [ "$(jq -r .version <<<"$v")" = 2.12.0 ]
p=$(curl -s -m 5 "$A/proxies")
check config_proxies [ "$(jq -r 'keys | join(",")' <<<"$p")" = "echo,off" ]
check config_toxics [ "$(jq -r '.echo.toxics | map(.name) | join(",")' <<<"$p")" = "latency_downstream,tiny" ]
check config_toxic_attrs [ "$(jq -r '.echo.toxics[0].attributes.latency' <<<"$p")" = 300 ]
check config_disabled [ "$(jq -r '.off.enabled' <<<"$p")" = false ]
ms=$(rtt "$PP")
echo "# -config latency 300: ${ms} ms"
check config_toxic_on_the_wire within "$ms" 280 2000
m=$(curl -s -m 5 "$A/metrics")
check metrics_toxiproxy_names grep -q "^toxiproxy_proxy_received_bytes_total{direction=\"upstream\",listener=\"127.0.0.1:$PP\",proxy=\"echo\",upstream=\"127.0.0.1:$ECHO\"} [1-9]" <<<"$m"
check metrics_sent grep -q '^toxiproxy_proxy_sent_bytes_total{direction="downstream"' <<<"$m"
check metrics_runtime grep -q '^process_resident_memory_bytes [1-9]' <<<"$m"
check metrics_faultline_kept grep -q '^faultline_info' <<<"$m"

# populate through the API with toxics: replaces the proxy's toxics; a bad toxic changes nothing
body='[{"name":"echo","listen":"127.0.0.1:'$PP'","upstream":"127.0.0.1:'$ECHO'","toxics":[{"name":"slow","type":"latency","attributes":{"latency":100}}]}]'
c=$(curl -s -m 5 -o "$TT/r" -w '%{http_code}' -X POST --data-binary "$body" "$A/populate")
check populate_toxics_201 [ "$c" = 201 ]
check populate_toxics_replaced [ "$(jq -r '.proxies[0].toxics | map(.name) | join(",")' "$TT/r")" = slow ]
bad='[{"name":"new1","listen":"127.0.0.1:0","upstream":"127.0.0.1:'$ECHO'"},{"name":"echo","listen":"127.0.0.1:'$PP'","upstream":"127.0.0.1:'$ECHO'","toxics":[{"type":"latency","attributes":{"latency":"x"}}]}]'
c=$(curl -s -m 5 -o "$TT/r" -w '%{http_code}' -X POST --data-binary "$bad" "$A/populate")
check populate_bad_toxic_400 [ "$c" = 400 ]
check populate_bad_toxic_names_it grep -q 'at proxy 2 toxic 1' "$TT/r"
p=$(curl -s -m 5 "$A/proxies")
check populate_bad_changed_nothing [ "$(jq -r '(has("new1") | tostring) + " " + (.echo.toxics | map(.name) | join(","))' <<<"$p")" = "false slow" ]
dup='[{"name":"echo","listen":"127.0.0.1:'$PP'","upstream":"127.0.0.1:'$ECHO'","toxics":[{"name":"a","type":"latency"},{"name":"a","type":"slicer"}]}]'
c=$(curl -s -m 5 -o "$TT/r" -w '%{http_code}' -X POST --data-binary "$dup" "$A/populate")
check populate_duplicate_toxic_400 [ "$c" = 400 ]

# a mapped toxic scoped with faultline's clients attribute: only 127.0.0.2 is slowed
c=$(curl -s -m 5 -o "$TT/r" -w '%{http_code}' -X POST -d '{"name":"scoped","type":"latency","stream":"upstream","attributes":{"latency":300,"clients":"127.0.0.2"}}' "$A/proxies/echo/toxics")
check scoped_toxic_created [ "$c" = 200 ]
check scoped_toxic_shown [ "$(jq -r .attributes.clients "$TT/r")" = 127.0.0.2/32 ]
curl -s -m 5 -X DELETE "$A/proxies/echo/toxics/slow" >/dev/null
src_rtt() {
    python3 - "$1" "$PP" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=5, source_address=(sys.argv[1], 0))
t = time.monotonic(); s.sendall(b"x"); s.recv(1)
print(int((time.monotonic() - t) * 1000))
PY
}
a=$(src_rtt 127.0.0.2); b=$(src_rtt 127.0.0.1)
echo "# scoped toxic: from 127.0.0.2 ${a} ms, from 127.0.0.1 ${b} ms"
check scoped_toxic_in_range within "$a" 280 2000
check scoped_toxic_out_of_range within "$b" 0 279   # under the 300 ms toxic: it did not act
stop_pid "$FL_PID"

# a -config that cannot be applied stops the start with the reason
echo '[{"name":"x","upstream":"127.0.0.1:1","toxics":[{"type":"nosuch"}]}]' >"$TT/bad.json"
"$FL" toxiproxy-server -port "$AP" -config "$TT/bad.json" >"$TT/o" 2>&1
check bad_config_exit_2 [ $? = 2 ]
check bad_config_reason grep -q "bad.json: invalid toxic type: 'nosuch'" "$TT/o"

# -profile: faultline settings (a token file) under Toxiproxy's flags; a non-loopback -host then starts
printf 's3cret-token-for-toxi\n' >"$TT/tok"
chmod 600 "$TT/tok"
printf '[faultline]\nadmin_token_file = %s\n' "$TT/tok" >"$TT/prof.ini"
"$FL" toxiproxy-server -host 0.0.0.0 -port "$AP" -profile "$TT/prof.ini" 2>"$TT/fl2.log" &
FL_PID=$!
_PIDS+=($FL_PID)
wait_port "$AP" 10 || { fail start2 "$(cat "$TT/fl2.log")"; exit 1; }
check profile_token_required [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$AP/proxies")" = 401 ]
check profile_token_accepted [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret-token-for-toxi' "http://127.0.0.1:$AP/proxies")" = 200 ]
stop_pid "$FL_PID"
done_tests
