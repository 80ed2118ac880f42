#!/usr/bin/env bash
# Toxiproxy v2 compatibility of the admin API, with curl: every endpoint, its JSON shape, status
# codes and error bodies; a proxy created with listen localhost:0 reports its real port; a
# disabled proxy refuses and drops connections; a toxic added mid-connection acts on the next
# exchange of that connection; a bad request changes nothing.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
api_profile "$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }

req GET /version
expect version 200 '.version | type == "string"'
req GET /proxies
expect proxies_empty 200 '. == {}'

# --- proxies
req POST /proxies "{\"name\":\"echo\",\"listen\":\"localhost:0\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect proxy_create_201 201 '.name == "echo" and .enabled == true and .toxics == [] and (.listen | test("^127\\.0\\.0\\.1:[1-9][0-9]*$"))'
LP=$(jget .listen | sed 's/.*://')
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 1000)
check proxy_created_serves [ "$(kv "$out" match)" = yes ]
req POST /proxies "{\"name\":\"echo\",\"listen\":\"127.0.0.1:0\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect proxy_duplicate_409 409 '.error == "proxy already exists" and .status == 409'
req POST /proxies '{"name":"x","listen":"127.0.0.1:0"}'
expect proxy_missing_upstream_400 400 '.error == "missing required field: upstream" and .status == 400'
req POST /proxies '{"listen":"127.0.0.1:0","upstream":"127.0.0.1:1"}'
expect proxy_missing_name_400 400 '.error == "missing required field: name"'
req POST /proxies '{"name":"x", "listen":'
expect proxy_bad_json_400 400 '(.error | startswith("bad request body")) and .status == 400'
req POST /proxies '{"name":"x","listen":"nowhere:1","upstream":"127.0.0.1:1"}'
expect proxy_bad_listen_400_names_field 400 '(.error | contains("listen"))'
req POST /proxies "{\"name\":\"clash\",\"listen\":\"127.0.0.1:$LP\",\"upstream\":\"127.0.0.1:1\"}"
expect proxy_listen_in_use_500 500 '(.error | contains("clash"))'
req GET /proxies
expect proxies_list_after_bad_requests 200 '(keys == ["echo"]) and .echo.toxics == []'
req GET /proxies/echo
expect proxy_show 200 ".name == \"echo\" and .upstream == \"127.0.0.1:$ECHO\""
req GET /proxies/nope
expect proxy_show_404 404 '.error == "proxy not found" and .status == 404'
req PUT /proxies/echo '{}'
expect proxy_wrong_method_405 405

# --- toxics
# (timing bounds are wide: the machine is shared; 800 ms of latency vs. 50 ms vs. none)
exec {H}<>"/dev/tcp/127.0.0.1/$LP"
exchange $H warmup
exchange $H before
check live_conn_fast_before [ "$EX_MS" -lt 400 ]
req POST /proxies/echo/toxics '{"type":"latency","attributes":{"latency":800,"jitter":0}}'
expect toxic_create_200 200 '.name == "latency_downstream" and .type == "latency" and .stream == "downstream" and .toxicity == 1 and .attributes.latency == 800 and .attributes.jitter == 0'
exchange $H after
check live_conn_sees_latency_added_mid_connection within "$EX_MS" 780 4000
req GET /proxies/echo/toxics
expect toxics_list 200 'length == 1 and .[0].name == "latency_downstream"'
req GET /proxies/echo/toxics/latency_downstream
expect toxic_show 200 '.attributes.latency == 800'
req POST /proxies/echo/toxics/latency_downstream '{"attributes":{"latency":50}}'
expect toxic_update 200 '.attributes.latency == 50 and .toxicity == 1'
exchange $H updated
check live_conn_sees_updated_toxic within "$EX_MS" 40 600
req PATCH /proxies/echo/toxics/latency_downstream '{"toxicity":0.5}'
expect toxic_update_patch_toxicity 200 '.toxicity == 0.5 and .attributes.latency == 50'
req POST /proxies/echo/toxics '{"type":"latency","attributes":{"latency":10}}'
expect toxic_duplicate_409 409 '.error == "toxic already exists" and .status == 409'
req POST /proxies/echo/toxics '{"type":"nonsense"}'
expect toxic_bad_type_400 400 '(.error | startswith("invalid toxic type: '"'"'nonsense'"'"' (Toxiproxy'"'"'s: latency bandwidth")) and (.error | contains("reset_peer")) and (.error | contains("faultline'"'"'s: ")) and (.error | contains(" hang"))'
req POST /proxies/echo/toxics '{"type":"latency","stream":"sideways"}'
expect toxic_bad_stream_400 400 '.error == "stream was invalid, can be either upstream or downstream"'
req POST /proxies/echo/toxics '{"name":"l2","type":"latency","attributes":{"latency":"slow"}}'
expect toxic_bad_attribute_400_names_it 400 '(.error | contains("attributes.latency"))'
req POST /proxies/echo/toxics '{"name":"l3","type":"latency","toxicity":7}'
expect toxic_bad_toxicity_400 400 '(.error | contains("probability"))'
req POST /proxies/nope/toxics '{"type":"latency"}'
expect toxic_on_unknown_proxy_404 404 '.error == "proxy not found"'
req GET /proxies/echo/toxics/nope
expect toxic_show_404 404 '.error == "toxic not found"'
req DELETE /proxies/echo/toxics/nope
expect toxic_delete_404 404
req GET /proxies/echo/toxics
expect bad_toxic_requests_changed_nothing 200 'length == 1'
req POST /proxies/echo/toxics '{"name":"up","type":"latency","stream":"upstream","toxicity":1,"attributes":{"latency":20}}'
expect toxic_upstream_named 200 '.name == "up" and .stream == "upstream"'
req GET /faults/up
expect toxic_is_a_faultline_fault 200 '.type == "latency" and .attributes.direction == "upstream" and .attributes.delay == "20ms" and .source == "api"'
req DELETE /proxies/echo/toxics/up
expect toxic_delete_204 204
req DELETE /proxies/echo/toxics/latency_downstream
expect toxic_delete_204_again 204
exchange $H removed
check live_conn_fast_after_removal [ "$EX_MS" -lt 400 ]

# native faultline types through the Toxiproxy face
req POST /proxies/echo/toxics '{"name":"h","type":"hang","attributes":{"after_bytes":"0"}}'
expect toxic_native_faultline_type 200 '.type == "hang"'
req DELETE /proxies/echo/toxics/h
expect toxic_native_delete 204

# --- disable / enable: like Toxiproxy's down proxy
req POST /proxies/echo '{"enabled":false}'
expect proxy_disable 200 '.enabled == false'
exchange $H afterdisable 2>/dev/null
check disabled_proxy_dropped_open_conn [ $? -ne 0 ]
exec {H}>&-
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
check disabled_proxy_refuses [ "$(kv "$out" result)" = refused ]
req POST /proxies/echo '{"enabled":true}'
expect proxy_enable 200 ".enabled == true and .listen == \"127.0.0.1:$LP\""
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP" 1000)
check reenabled_proxy_same_port_serves [ "$(kv "$out" match)" = yes ]
LP2=$(free_port)
req PATCH /proxies/echo "{\"listen\":\"127.0.0.1:$LP2\"}"
expect proxy_move_listen 200 ".listen == \"127.0.0.1:$LP2\""
out=$("$TBIN/flpeer" echo "127.0.0.1:$LP2" 1000)
check moved_proxy_serves_new_port [ "$(kv "$out" match)" = yes ]
out=$("$TBIN/flpeer" call "127.0.0.1:$LP" 1000)
check moved_proxy_left_old_port [ "$(kv "$out" result)" = refused ]
req POST /proxies/echo '{"enabled":"yes"}'
expect proxy_update_bad_body_400 400

# --- populate and reset
P1=$(free_port)
req POST /populate "[{\"name\":\"echo\",\"listen\":\"127.0.0.1:$LP2\",\"upstream\":\"127.0.0.1:$ECHO\"},{\"name\":\"p1\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"127.0.0.1:$ECHO\"},{\"name\":\"p2\",\"listen\":\"localhost:0\",\"upstream\":\"127.0.0.1:$ECHO\",\"enabled\":false}]"
expect populate_201 201 '(.proxies | length) == 3 and .proxies[1].name == "p1" and .proxies[2].enabled == false'
out=$("$TBIN/flpeer" echo "127.0.0.1:$P1" 1000)
check populated_proxy_serves [ "$(kv "$out" match)" = yes ]
req POST /populate "[{\"name\":\"p3\",\"listen\":\"127.0.0.1:$(free_port)\",\"upstream\":\"127.0.0.1:$ECHO\"},{\"name\":\"p4\"}]"
expect populate_invalid_400 400 '(.error | startswith("missing required field: upstream at proxy 2")) and .proxies == []'
req POST /populate "[{\"name\":\"p3\",\"listen\":\"127.0.0.1:$(free_port)\",\"upstream\":\"127.0.0.1:$ECHO\"},{\"name\":\"p5\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"127.0.0.1:$ECHO\"}]"
expect populate_bind_failure_500 500
req GET /proxies
expect populate_failures_changed_nothing 200 '(keys | sort) == ["echo","p1","p2"]'
req POST /populate '{"name":"x"}'
expect populate_not_array_400 400
req POST /proxies/p1/toxics '{"type":"latency","attributes":{"latency":100}}'
req POST /proxies/echo/toxics '{"type":"latency","attributes":{"latency":100}}'
expect same_toxic_name_on_two_proxies 200
req POST /proxies/p1 '{"enabled":false}'
req POST /reset
expect reset_204 204
req GET /proxies
expect reset_enables_all_and_removes_toxics 200 '[.[] | .enabled] == [true,true,true] and [.[] | .toxics | length] == [0,0,0]'
out=$("$TBIN/flpeer" echo "127.0.0.1:$P1" 1000)
check reset_proxy_serves [ "$(kv "$out" match)" = yes ]
req GET /reset
expect reset_wrong_method_405 405

# --- reset_peer as Toxiproxy's: an idle connection is left alone; the first data starts
# `timeout` (0: reset at once), and none of it reaches the client
for to in 0 500; do
    req POST /proxies/echo/toxics "{\"name\":\"rp\",\"type\":\"reset_peer\",\"attributes\":{\"timeout\":$to}}"
    expect "reset_peer_${to}_created" 200 ".type == \"reset_peer\" and .attributes.timeout == $to"
    out=$(python3 - "$LP2" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.settimeout(0.7)
try:
    idle = "closed" if s.recv(10) == b"" else "data"
except socket.timeout:
    idle = "open"
except OSError:
    idle = "reset"
t = time.monotonic()
s.settimeout(3)
try:
    s.sendall(b"ping\n")
    got = "eof" if s.recv(10) == b"" else "data"
except ConnectionResetError:
    got = "reset"
except OSError as e:
    got = type(e).__name__
print("idle=%s got=%s ms=%d" % (idle, got, (time.monotonic() - t) * 1000))
PY
)
    echo "# reset_peer timeout=$to: $out"
    check "reset_peer_${to}_idle_left_open" [ "$(kv "$out" idle)" = open ]
    check "reset_peer_${to}_reset_on_data" [ "$(kv "$out" got)" = reset ]
    check "reset_peer_${to}_after_timeout" within "$(kv "$out" ms)" $((to > 50 ? to - 50 : 0)) $((to + 450))
    req DELETE /proxies/echo/toxics/rp
done
# a profile's reset (from the connect) is not Toxiproxy's reset_peer: shown as faultline's type
req POST /faults '{"name":"rc","type":"reset","proxy":"echo","after":"1h"}'
req GET /proxies/echo/toxics/rc
expect reset_from_connect_shown_as_reset 200 '.type == "reset" and .attributes.trigger == "connect"'
req DELETE /faults/rc

# --- delete
exec {H}<>"/dev/tcp/127.0.0.1/$P1"
exchange $H held
req DELETE /proxies/p1
expect proxy_delete_204 204
exchange $H afterdelete 2>/dev/null
check deleted_proxy_dropped_conn [ $? -ne 0 ]
out=$("$TBIN/flpeer" call "127.0.0.1:$P1" 1000)
check deleted_proxy_refuses [ "$(kv "$out" result)" = refused ]
req DELETE /proxies/p1
expect proxy_delete_404 404 '.error == "proxy not found"'
req GET /nothing/here
expect unknown_path_404 404 '.status == 404'
done_tests
