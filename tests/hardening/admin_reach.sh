#!/usr/bin/env bash
# H1 (issue 20): the admin API cannot put a proxy in front of another process's socket, replace
# or unlink a socket file it did not create, bind privileged or non-loopback addresses, or send
# traffic to hosts the profile does not name, nor widen the policy with the [faultline] keys of a
# profile it posts (docs/security.md). Each request below is the attack; each is refused with
# 403 naming the rule, and the victim socket keeps serving.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

mkdir -p "$TT/other" "$TT/ok"
start_peer ECHO 127.0.0.1:0 echo
# "another process's" socket (think /var/run/docker.sock): a live echo server on a unix path
start_peer VICTIM "unix:$TT/other/victim.sock" echo
ino0=$(stat -c %i "$TT/other/victim.sock")
LP=$(free_port)
api_profile "$TT/p.ini" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }

victim_ok() {
    [ "$(stat -c %i "$TT/other/victim.sock" 2>/dev/null)" = "$ino0" ] &&
        [ "$(kv "$("$TBIN/flpeer" echo "unix:$TT/other/victim.sock" 100)" match)" = yes ]
}
P1=$(free_port)
# 1. listen on the victim's path: today's default allows no unix path through the API
req POST /proxies "{\"name\":\"steal\",\"listen\":\"unix:$TT/other/victim.sock\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_on_foreign_socket_403 403 '.status == 403 and (.error | test("unix_dirs"))'
check victim_socket_not_replaced victim_ok
# 2. upstream to the victim's socket (a proxy in front of docker.sock)
req POST /proxies "{\"name\":\"front\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"unix:$TT/other/victim.sock\"}"
expect api_upstream_to_foreign_socket_403 403 '(.error | test("unix_dirs"))'
req PATCH /proxies/db "{\"upstream\":\"unix:$TT/other/victim.sock\"}"
expect api_patch_upstream_to_socket_403 403 '(.error | test("unix_dirs"))'
req POST /populate "[{\"name\":\"pop\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"unix:$TT/other/victim.sock\"}]"
expect api_populate_to_socket_403 403 '(.error | test("unix_dirs")) and .proxies == []'
req POST /profile "$(printf '[proxy prof]\nlisten = unix:%s\nupstream = 127.0.0.1:%s\n' "$TT/other/victim.sock" "$ECHO")"
expect api_profile_listen_on_socket_403 403 '(.error | test("unix_dirs"))'
check victim_socket_still_serving victim_ok
# 3. listeners: loopback and unprivileged only; upstreams: loopback and the profile's hosts
req POST /proxies "{\"name\":\"wide\",\"listen\":\"0.0.0.0:$P1\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_all_interfaces_403 403 '(.error | test("api_listen_allow"))'
req POST /proxies "{\"name\":\"priv\",\"listen\":\"127.0.0.1:80\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_privileged_port_403 403 '(.error | test("api_listen_allow"))'
req PATCH /proxies/db "{\"listen\":\"127.0.0.1:443\"}"
expect api_patch_listen_privileged_403 403 '(.error | test("api_listen_allow"))'
req POST /proxies "{\"name\":\"out\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"10.255.255.1:5432\"}"
expect api_upstream_elsewhere_403 403 '(.error | test("api_upstream_allow"))'
req POST /proxies "{\"name\":\"out\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"evil.example:80\"}"
expect api_upstream_unnamed_host_403 403 '(.error | test("api_upstream_allow"))'
req GET /proxies
expect refused_requests_created_nothing 200 'keys == ["db"] and .db.upstream == "127.0.0.1:'"$ECHO"'"'
req POST /proxies "{\"name\":\"fine\",\"listen\":\"localhost:0\",\"upstream\":\"localhost:$ECHO\"}"
expect api_loopback_proxy_still_allowed 201
out=$("$TBIN/flpeer" echo "127.0.0.1:$(jget .listen | sed 's/.*://')" 1000)
check api_loopback_proxy_works [ "$(kv "$out" match)" = yes ]
# a profile posted through the API cannot loosen the policy: its [faultline] keys are not applied
WIDE="$(printf '[faultline]\napi_listen_allow = 0.0.0.0/0:1-65535\napi_upstream_allow = 0.0.0.0/0:1-65535\nunix_dirs = %s/other\nadmin_hosts = *\n[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$TT" "$LP" "$ECHO")"
req POST /profile "$WIDE"
expect api_profile_with_policy_keys_accepted 200
req POST /proxies "{\"name\":\"wide\",\"listen\":\"0.0.0.0:$P1\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect posted_api_listen_allow_not_applied 403 '(.error | test("api_listen_allow"))'
req POST /proxies "{\"name\":\"out\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"10.255.255.1:5432\"}"
expect posted_api_upstream_allow_not_applied 403 '(.error | test("api_upstream_allow"))'
req POST /proxies "{\"name\":\"front\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"unix:$TT/other/victim.sock\"}"
expect posted_unix_dirs_not_applied 403 '(.error | test("unix_dirs"))'
check posted_admin_hosts_not_applied [ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' -H 'Host: evil.example' "$A/healthz")" = 403 ]
stop_pid "$FL_PID"
check victim_socket_survives_exit victim_ok

# 4. unix_dirs: the API may use sockets under it, never replaces a live or foreign file there,
#    and unlinks only the file it made
"$TBIN/flpeer" serve "unix:$TT/ok/busy.sock" echo >/dev/null 2>&1 &
_PIDS+=($!)
wait_for 5 test -S "$TT/ok/busy.sock"
echo "keep me" >"$TT/ok/file"
ln -s "$TT/other/victim.sock" "$TT/ok/link.sock"
ADMIN_PORT=$(free_port); A="http://127.0.0.1:$ADMIN_PORT"
api_profile "$TT/u.ini" "unix_dirs = $TT/ok" "[proxy db]" "listen = 127.0.0.1:$LP" "upstream = 127.0.0.1:$ECHO"
start_api "$TT/u.ini" || { fail start_unix_dirs "faultline did not start: $(cat "$FL_LOG")"; exit 1; }
req POST /proxies "{\"name\":\"busy\",\"listen\":\"unix:$TT/ok/busy.sock\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_on_live_socket_refused 500 '(.error | test("in use by another process"))'
check live_socket_kept [ "$(kv "$("$TBIN/flpeer" echo "unix:$TT/ok/busy.sock" 100)" match)" = yes ]
req POST /proxies "{\"name\":\"file\",\"listen\":\"unix:$TT/ok/file\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_on_regular_file_refused 500 '(.error | test("not a socket"))'
check regular_file_kept grep -qx "keep me" "$TT/ok/file"
req POST /proxies "{\"name\":\"lnk\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"unix:$TT/ok/link.sock\"}"
expect api_symlink_out_of_unix_dirs_403 403 '(.error | test("unix_dirs"))'
req POST /proxies "{\"name\":\"dots\",\"listen\":\"127.0.0.1:$P1\",\"upstream\":\"unix:$TT/ok/../other/victim.sock\"}"
expect api_dotdot_out_of_unix_dirs_403 403 '(.error | test("unix_dirs"))'
req POST /proxies "{\"name\":\"mine\",\"listen\":\"unix:$TT/ok/mine.sock\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_under_unix_dirs_201 201
check api_unix_proxy_works [ "$(kv "$("$TBIN/flpeer" echo "unix:$TT/ok/mine.sock" 100)" match)" = yes ]
req DELETE /proxies/mine
check delete_unlinks_own_socket test ! -e "$TT/ok/mine.sock"
req POST /proxies "{\"name\":\"mine\",\"listen\":\"unix:$TT/ok/mine.sock\",\"upstream\":\"127.0.0.1:$ECHO\"}"
expect api_listen_again_201 201
# someone else's socket takes the path behind faultline's back: DELETE must leave it alone
rm -f "$TT/ok/mine.sock"
"$TBIN/flpeer" serve "unix:$TT/ok/mine.sock" echo >/dev/null 2>&1 &
_PIDS+=($!)
wait_for 5 test -S "$TT/ok/mine.sock"
req DELETE /proxies/mine
expect delete_204 204
check delete_leaves_replaced_socket [ "$(kv "$("$TBIN/flpeer" echo "unix:$TT/ok/mine.sock" 100)" match)" = yes ]
check victim_untouched_by_unix_dirs_daemon victim_ok
stop_pid "$FL_PID"
check busy_socket_survives_exit test -S "$TT/ok/busy.sock"

# 5. the profile file is trusted, but once unix_dirs is set its own unix paths must lie under it
printf '[faultline]\nunix_dirs = %s/ok\n[proxy x]\nlisten = unix:%s/other/x.sock\nupstream = 127.0.0.1:1\n' "$TT" "$TT" >"$TT/bad.ini"
out=$("$FL" check "$TT/bad.ini" 2>&1); rc=$?
check profile_unix_path_outside_unix_dirs_exit_2 [ "$rc" = 2 ]
check profile_unix_error_names_key_and_line grep -q "bad.ini:4: listen: unix:$TT/other/x.sock is not under unix_dirs" <<<"$out"
printf '[faultline]\nunix_dirs = relative/dir\n' >"$TT/rel.ini"
check unix_dirs_must_be_absolute eval '! "$FL" check "$TT/rel.ini" >/dev/null 2>&1'
done_tests
