#!/usr/bin/env bash
# Fault names are per proxy on every face (issue 19, 2): two proxies may each have a fault `lat`
# (native POST /faults, Toxiproxy toxics, the profile); PROXY/NAME (also %2F-encoded) and
# ?proxy= address one; a bare name on two proxies is refused with a 409 naming them, in the API
# and in `ctl rm lat`, and nothing is removed; a SIGHUP reload keeps an API fault whose name a
# profile fault on another proxy has. Observed on real connections through an echo upstream.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
PA=$(free_port); PB=$(free_port)
# b before a: the reload must not take b's fault for a's
api_profile "$TT/p.ini" "[proxy b]" "listen = 127.0.0.1:$PB" "upstream = 127.0.0.1:$ECHO" \
    "[proxy a]" "listen = 127.0.0.1:$PA" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
ctl() { "$FL" ctl --admin "127.0.0.1:$ADMIN_PORT" "$@"; }
ms() { kv "$("$TBIN/flpeer" echo "127.0.0.1:$1" 100)" ms; }
slow() { within "$(ms "$1")" 450 5000; }
fast() { within "$(ms "$1")" 0 300; }

req POST /faults '{"name":"lat","type":"latency","proxy":"a","delay":"600ms"}'
expect create_on_a 201 '.proxy == "a"'
req POST /faults '{"name":"lat","type":"latency","proxy":"b","delay":"600ms"}'
expect same_name_on_b_201 201 '.proxy == "b"'
req POST /faults '{"name":"lat","type":"latency","proxy":"b","delay":"1ms"}'
expect same_name_same_proxy_409 409 '.error == "fault already exists: lat on proxy b"'
req POST /faults '{"name":"a/x","type":"latency","proxy":"a","delay":"1ms"}'
expect slash_in_new_name_400 400 '(.error | startswith("name: "))'
check a_slow slow "$PA"
check b_slow slow "$PB"

# --- a bare name on two proxies: refused, naming them; nothing changes
req GET /faults/lat
expect bare_get_ambiguous_409 409 '.proxies == ["b","a"] and (.error | contains("b, a")) and (.error | contains("PROXY/NAME"))'
req DELETE /faults/lat
expect bare_delete_ambiguous_409 409 '.proxies == ["b","a"]'
req PATCH /faults/lat '{"delay":"1ms"}'
expect bare_patch_ambiguous_409 409
ctl rm lat >"$TT/out" 2>"$TT/err"
check ctl_rm_ambiguous_exit_1 [ $? = 1 ]
check ctl_rm_ambiguous_names_proxies grep -q "ambiguous fault name: 'lat' is on proxies b, a.*(HTTP 409)" "$TT/err"
req GET /faults
expect nothing_removed 200 '[.[] | .proxy + "/" + .name] | sort == ["a/lat","b/lat"]'

# --- addressed: PROXY/NAME, PROXY%2FNAME, ?proxy=
req GET /faults/a/lat
expect path_proxy_name 200 '.proxy == "a"'
req GET /faults/b%2Flat
expect encoded_proxy_name 200 '.proxy == "b"'
req GET '/faults/lat?proxy=b'
expect query_proxy 200 '.proxy == "b"'
req GET '/faults/a/lat?proxy=b'
expect path_and_query_disagree_400 400
req GET '/faults/lat?proxy=zz'
expect query_unknown_proxy_404 404 '.error == "proxy not found: zz"'
req GET '/faults?proxy=a'
expect list_by_proxy 200 'length == 1 and .[0].proxy == "a"'
req DELETE '/faults/lat?proxy=a'
expect delete_query_only_a 204
check a_fast_after_delete fast "$PA"
check b_still_slow slow "$PB"
req GET /faults
expect only_b_left 200 '[.[] | .proxy + "/" + .name] == ["b/lat"]'
req GET /faults/lat
expect bare_unique_again 200 '.proxy == "b"'

# --- ctl with PROXY/NAME
ctl add a/lat type=latency delay=600ms >"$TT/out" 2>&1
check ctl_add_proxy_name grep -q 'added fault lat (latency on proxy a, active)' "$TT/out"
ctl show a/lat >"$TT/out" 2>&1
check ctl_show_proxy_name grep -q '  proxy = a' "$TT/out"
ctl add a/lat2 type=latency proxy=b delay=1ms >/dev/null 2>"$TT/err"
check ctl_add_proxy_clash_exit_2 [ $? = 2 ]
ctl rm a/lat >"$TT/out" 2>&1
check ctl_rm_proxy_name_exit_0 [ $? = 0 ]
check ctl_rm_a_fast fast "$PA"
check ctl_rm_b_untouched slow "$PB"

# --- reload: the profile's lat on a, the API's lat on b (a toxic), both kept
req DELETE /faults/b/lat
req POST /proxies/b/toxics '{"name":"lat","type":"latency","attributes":{"latency":600}}'
expect toxic_lat_on_b 200
cat >>"$TT/p.ini" <<INI
[fault lat]
proxy = a
type = latency
delay = 600ms
INI
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload ' "$FL_LOG"
req GET /faults
expect reload_keeps_both 200 '[.[] | .proxy + "/" + .name + "/" + .source] | sort == ["a/lat/profile","b/lat/api"]'
check reload_a_slow slow "$PA"
check reload_b_slow slow "$PB"
kill -HUP "$FL_PID"
wait_for 5 bash -c "[ \$(grep -c 'event=reload ' '$FL_LOG') -ge 2 ]"
req GET /faults
expect second_reload_keeps_both 200 '[.[] | .proxy + "/" + .name] | sort == ["a/lat","b/lat"]'
done_tests
