#!/usr/bin/env bash
# Admin API abuse (issue 9): slow-loris clients, 10 MiB bodies, invalid UTF-8 and deep JSON
# nesting are refused (4xx, JSON errors where faultline answers; slow clients closed after the
# request deadline of 10 s), the admin API keeps answering meanwhile and the data path is not
# slowed down. See docs/api.md ("Limits").
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

start_peer ECHO 127.0.0.1:0 echo
PP=$(free_port)
api_profile "$TT/p.ini" "log = info"
printf '[proxy echo]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PP" "$ECHO" >>"$TT/p.ini"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
fds0=$(ls /proc/$FL_PID/fd | wc -l)

# 1. slow-loris: 300 connections sending a request head one byte a second, never finishing it
"$TBIN/slowloris" "127.0.0.1:$ADMIN_PORT" 300 18 1000 >"$TT/sl.out" &
SL=$!
sleep 3
t0=$(now_ms)
req GET /healthz
t1=$(now_ms)
expect slowloris_admin_still_answers 200 '.status == "ok"'
check slowloris_admin_answer_under_2s [ $((t1 - t0)) -lt 2000 ]
req POST /faults '{"name":"during","proxy":"echo","type":"latency","delay":"1ms"}'
expect slowloris_admin_still_creates 201
req DELETE /faults/during
out=$("$TBIN/probe" "127.0.0.1:$PP" 20 20)
echo "# probe during slow-loris: $out"
check slowloris_data_path_ok [ "$(kv "$out" ok)" = 20 ]
check slowloris_data_path_p50_under_20ms within "$(kv "$out" p50_ms)" 0 20
wait $SL
sl=$(cat "$TT/sl.out")
echo "# slowloris: $sl"
check slowloris_all_closed_by_server eval '[ "$(kv "$sl" closed)" = "$(kv "$sl" opened)" ] && [ "$(kv "$sl" opened)" -gt 0 ]'
check slowloris_closed_after_deadline within "$(kv "$sl" last_close_s)" 8 16
fds1=$(ls /proc/$FL_PID/fd | wc -l)
check slowloris_no_fd_left_behind [ "$fds1" -le $((fds0 + 2)) ]

# 2. bodies: 2 MiB gets faultline's JSON 413; 10 MiB (declared or chunked) is refused by evhttp
#    before it is read (413, connection closed)
head -c 2000000 /dev/zero | tr '\0' 'a' >"$TT/2m"
head -c 10485760 /dev/zero | tr '\0' 'a' >"$TT/10m"
code=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' --data-binary @"$TT/2m" "$A/faults")
check body_2mib_413_json eval '[ "$code" = 413 ] && jqf ".status == 413 and (.error | test(\"too large\"))" "$TT/r"'
t0=$(now_ms)
code=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' --data-binary @"$TT/10m" "$A/faults")
check body_10mib_413 [ "$code" = 413 ]
code=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' -H 'Transfer-Encoding: chunked' --data-binary @"$TT/10m" "$A/proxies")
check body_10mib_chunked_413 [ "$code" = 413 ]
check body_10mib_refused_fast [ $(( $(now_ms) - t0 )) -lt 5000 ]

H=$(head -c 70000 /dev/zero | tr '\0' a)
code=$(curl -s -m 10 -o /dev/null -w '%{http_code}' -H "X-Big: $H" "$A/healthz")
check headers_over_64kib_4xx [ "${code:0:1}" = 4 ]

# 3. invalid UTF-8 and deep nesting: 400 with a JSON error, on each JSON endpoint
printf '{"name":"\xff\xfe","proxy":"echo","type":"latency"}' >"$TT/utf8"
python3 -c "import sys; sys.stdout.write('[' * 100000)" >"$TT/deep"
python3 -c "import sys; sys.stdout.write('{\"a\":' * 50000 + '1' + '}' * 50000)" >"$TT/deepobj"
for ep in /faults /proxies /proxies/echo/toxics /populate /proxies/echo /faults/x; do
    m=POST; [ "$ep" = /faults/x ] && m=PATCH
    for f in utf8 deep deepobj; do
        code=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' -X "$m" --data-binary @"$TT/$f" "$A$ep")
        case "$code" in 4??) jqf '.error | type == "string"' "$TT/r" && continue ;; esac
        fail "bad_body_${f}_${ep//\//_}" "HTTP $code: $(head -c 200 "$TT/r")"
    done
done
pass bad_bodies_all_400_json
printf '[proxy x]\nlisten = 127.0.0.1:1\nupstream = \xff\xfe:1\n' >"$TT/utf8.ini"
code=$(curl -s -m 10 -o "$TT/r" -w '%{http_code}' --data-binary @"$TT/utf8.ini" "$A/profile")
check profile_invalid_utf8_4xx eval '[ "${code:0:1}" = 4 ] && jqf ".error | type == \"string\"" "$TT/r"'

printf '[proxy a]\nlisten = 127.0.0.1:1\nupstream = 127.0.0.1:2\n[fault caf\xe9]\nproxy = a\ntype = latency\n' >"$TT/latin1.ini"
out=$("$FL" check "$TT/latin1.ini" 2>&1)
check profile_not_utf8_refused_with_line grep -q "latin1.ini:4: not UTF-8 text" <<<"$out"

# 4. nothing was changed by what was refused; the API and the data path are fine
req GET /faults
expect refused_requests_changed_nothing 200 'length == 0'
req GET /proxies
expect proxies_unchanged 200 'keys == ["echo"]'
out=$("$TBIN/probe" "127.0.0.1:$PP" 20 10)
check data_path_after_abuse_p50_under_20ms eval '[ "$(kv "$out" ok)" = 20 ] && within "$(kv "$out" p50_ms)" 0 20'
check daemon_alive kill -0 "$FL_PID"
done_tests
