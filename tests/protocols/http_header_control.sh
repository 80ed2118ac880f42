#!/usr/bin/env bash
# header_control (docs/http.md): per-request faults asked for with x-faultline-delay and
# x-faultline-abort, from allowed sources only (curl bound to 127.0.0.2 vs 127.0.0.1), the headers
# stripped before the upstream (httpup's /hdr/NAME echoes what it received), the delay capped,
# other faults still chosen for requests without the headers; bad keys refused with file:line.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/http_lib.bash"

start_httpup UP || { fail start "httpup"; exit 1; }
LP=$(free_port)
http_proxy_ini "$TT/p.ini" "$LP" "$UP"
cat >>"$TT/p.ini" <<INI
header_control = on
header_control_clients = 127.0.0.1/32
header_control_max_delay = 1s
[fault teapot]
proxy = web
type = http_error
status = 418
match_path = /teapot
INI
sed -i 's/^admin = off/admin = off\nlog = debug/' "$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
U="http://127.0.0.1:$LP"
code() { curl -s -m 5 -o /dev/null -w '%{http_code}' "$@"; }

check abort_from_allowed [ "$(code -H 'x-faultline-abort: 503' "$U/")" = 503 ]
check abort_from_other_source_ignored [ "$(code --interface 127.0.0.2 -H 'x-faultline-abort: 503' "$U/")" = 200 ]
check abort_name_case_insensitive [ "$(code -H 'X-FaultLine-Abort: 429' "$U/")" = 429 ]
ms=$(ms_of curl -s -m 5 -H 'x-faultline-delay: 300ms' "$U/")
echo "# x-faultline-delay: 300ms -> ${ms} ms"
check delay_applied within "$ms" 280 1500
ms=$(ms_of curl -s -m 5 -H 'x-faultline-delay: 200' "$U/")
check delay_bare_number_is_ms within "$ms" 180 1500
ms=$(ms_of curl -s -m 5 -H 'x-faultline-delay: 10s' "$U/")
echo "# x-faultline-delay: 10s, header_control_max_delay = 1s -> ${ms} ms"
check delay_capped within "$ms" 900 2500
ms=$(ms_of curl -s -m 5 --interface 127.0.0.2 -H 'x-faultline-delay: 500ms' "$U/")
check delay_other_source_ignored within "$ms" 0 300
t0=$(date +%s%N)
c=$(code -H 'x-faultline-delay: 300ms' -H 'x-faultline-abort: 504' "$U/")
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# delay + abort: $c after ${ms} ms"
check delay_then_abort bash -c "[ '$c' = 504 ] && [ $ms -ge 280 ]"
# stripped before the upstream, from any source; other headers untouched
check stripped_delay [ "$(curl -s -m 5 -H 'x-faultline-delay: 1ms' "$U/hdr/x-faultline-delay")" = - ]
check stripped_for_other_sources [ "$(curl -s -m 5 --interface 127.0.0.2 -H 'x-faultline-abort: 503' "$U/hdr/x-faultline-abort")" = - ]
check stripped_other_names [ "$(curl -s -m 5 -H 'x-faultline-whatever: 1' "$U/hdr/x-faultline-whatever")" = - ]
check other_headers_kept [ "$(curl -s -m 5 -H 'x-faultline-abortx: 1' -H 'X-Keep: yes' "$U/hdr/x-keep")" = yes ]
# bad values pass unfaulted (logged)
check bad_abort_passes [ "$(code -H 'x-faultline-abort: 99' "$U/")" = 200 ]
check bad_delay_passes [ "$(code -H 'x-faultline-delay: soon' "$U/")" = 200 ]
check bad_value_logged grep -q 'event=header_control_bad' "$FL_LOG"
# the profile's faults still act on requests without the headers, and the headers win
check profile_fault_still_acts [ "$(code "$U/teapot")" = 418 ]
check header_wins [ "$(code -H 'x-faultline-abort: 502' "$U/teapot")" = 502 ]
# keep-alive: a controlled request, then a plain one, on one connection
out=$(curl -s -m 5 -o /dev/null -w '%{http_code} ' -H 'x-faultline-abort: 503' "$U/" --next -o /dev/null -w '%{http_code}' "$U/")
check keepalive_next_request_clean [ "$out" = "503 200" ]
check logged_as_fault grep -q 'event=header_control proxy=web' "$FL_LOG"
stop_pid "$FL_PID"

# off by default: the headers go through untouched
http_proxy_ini "$TT/q.ini" "$LP" "$UP"
start_fl "$TT/q.ini" || { fail start "faultline did not start"; exit 1; }
check off_by_default [ "$(code -H 'x-faultline-abort: 503' "$U/")" = 200 ]
check off_passes_headers [ "$(curl -s -m 5 -H 'x-faultline-abort: 503' "$U/hdr/x-faultline-abort")" = 503 ]
stop_pid "$FL_PID"

# check refuses the keys where they mean nothing
printf '[faultline]\nadmin = off\n[proxy t]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nheader_control = on\n' >"$TT/b.ini"
check refused_on_tcp bash -c "'$FL' check '$TT/b.ini' 2>&1 | grep -q 'b.ini:6: .*header_control: needs an http proxy'"
printf '[faultline]\nadmin = off\n[proxy t]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = http\nheader_control_clients = 10.0.0.0/8\n' >"$TT/b.ini"
check clients_without_on bash -c "'$FL' check '$TT/b.ini' 2>&1 | grep -q 'b.ini:7: .*only with header_control = on'"
printf '[faultline]\nadmin = off\n[proxy t]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\nmode = http\nheader_control = on\nheader_control_clients = 10.0.0.1/8\n' >"$TT/b.ini"
check bad_clients bash -c "'$FL' check '$TT/b.ini' 2>&1 | grep -q 'b.ini:8: .*bits set past'"
done_tests
