#!/usr/bin/env bash
# Running faultline locked down (docs/security.md): packaging/faultline.service carries the
# sandbox settings and passes systemd's own check; the Dockerfile runs as a non-root user; and
# faultline serves as an unprivileged user with no capabilities and no new privileges, its token
# from a 0400 file, its sockets under unix_dirs -- the way that unit runs it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

U=packaging/faultline.service
for d in 'DynamicUser=yes' 'NoNewPrivileges=yes' 'CapabilityBoundingSet=' 'ProtectSystem=strict' 'ProtectHome=yes' \
         'PrivateTmp=yes' 'PrivateDevices=yes' 'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
         'LoadCredential=admin-token:' 'LoadCredential=fleet-key:' 'RuntimeDirectory=faultline' 'SystemCallFilter=@system-service' \
         'ExecStart=/usr/local/bin/faultline serve '; do
    check "unit_has_${d%%=*}" grep -q "^$d" "$U"
done
if command -v systemd-analyze >/dev/null 2>&1; then
    cp "$U" "$TT/faultline.service"
    # the binary and man pages are not installed here: only those complaints are expected
    out=$(systemd-analyze verify "$TT/faultline.service" 2>&1 | grep -v -e 'is not executable' -e "Command 'man ")
    check unit_passes_systemd_analyze [ -z "$out" ]
    [ -n "$out" ] && echo "# systemd-analyze: $out"
else
    pass "unit_passes_systemd_analyze # SKIP systemd-analyze not installed"
fi
check dockerfile_runs_as_non_root grep -q '^USER faultline:faultline' Dockerfile
check dockerfile_user_is_unprivileged grep -q 'useradd --system --uid 10001' Dockerfile

# as nobody: no capabilities, no new privileges; token file 0400; sockets under unix_dirs
RUN_DIR="$TT/run"
mkdir -m 0750 "$RUN_DIR"
chown nobody:nogroup "$RUN_DIR"
head -c 24 /dev/urandom | base64 >"$TT/admin-token"
chown nobody:nogroup "$TT/admin-token"
chmod 0400 "$TT/admin-token"
start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
api_profile "$TT/p.ini" "admin_token_file = $TT/admin-token" "unix_dirs = $RUN_DIR" "max_fault_duration = 30m" \
    "[proxy tcp]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO" \
    "[proxy sock]" "listen = unix:$RUN_DIR/echo.sock" "upstream = 127.0.0.1:$ECHO"
chmod 0644 "$TT/p.ini"
setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
    "$FL" serve "$TT/p.ini" 2>"$TT/fl.log" &
FL_PID=$!; FL_LOG=$TT/fl.log; _PIDS+=($FL_PID)
wait_port "$ADMIN_PORT" 10 || { fail start "did not start: $(cat "$FL_LOG")"; exit 1; }
check runs_as_nobody [ "$(stat -c %U "/proc/$FL_PID")" = nobody ]
check no_capabilities grep -q '^CapEff:[[:space:]]*0000000000000000$' "/proc/$FL_PID/status"
check no_new_privs grep -q '^NoNewPrivs:[[:space:]]*1$' "/proc/$FL_PID/status"
CURL_AUTH=(-H "Authorization: Bearer $(cat "$TT/admin-token")")
req GET /healthz
expect admin_with_token_file 200 '.status == "ok"'
check tcp_proxy_works [ "$(kv "$("$TBIN/flpeer" echo "127.0.0.1:$LP" 1000)" match)" = yes ]
check unix_proxy_works [ "$(kv "$("$TBIN/flpeer" echo "unix:$RUN_DIR/echo.sock" 1000)" match)" = yes ]
req POST /proxies "{\"name\":\"more\",\"listen\":\"unix:$RUN_DIR/more.sock\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_socket_under_unix_dirs 201
req POST /proxies "{\"name\":\"low\",\"listen\":\"127.0.0.1:81\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_privileged_port_403 403 '(.error | test("api_listen_allow"))'
stop_pid "$FL_PID"
check sockets_removed_at_exit bash -c "! ls '$RUN_DIR'/*.sock 2>/dev/null | grep -q ."
done_tests
