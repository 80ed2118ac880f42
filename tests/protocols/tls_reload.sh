#!/usr/bin/env bash
# TLS across a reload (SIGHUP): a certificate rotated in place (same path, new file) is served to
# new connections while a connection opened before keeps working; the counters carry over;
# turning TLS off makes a new proxy (plain from then on); a broken certificate keeps the old
# profile (exit of check 2, the reload refused).
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

mk_cert "$TT/a"
mk_cert "$TT/b"
mkdir -p "$TT/live"
cp "$TT/a/cert.pem" "$TT/a/key.pem" "$TT/live/"
start_peer ECHO 127.0.0.1:0 echo || { fail echo_start; done_tests; exit; }
P=$(free_port)
write() {
    { printf '[faultline]\nadmin = off\n'; px e "$P" "127.0.0.1:$ECHO" "$@"; } >"$TT/p.ini"
}
write tls=terminate "tls_cert=$TT/live/cert.pem" "tls_key=$TT/live/key.pem"
start_fl "$TT/p.ini" "$TT/fl.log" || { fail fl_start "$(cat "$TT/fl.log")"; done_tests; exit; }
fp() { openssl s_client -connect "127.0.0.1:$P" </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256; }
fpa=$(openssl x509 -in "$TT/a/cert.pem" -noout -fingerprint -sha256)
fpb=$(openssl x509 -in "$TT/b/cert.pem" -noout -fingerprint -sha256)
check serves_a test "$(fp)" = "$fpa"
# a connection opened before the reload, used after it
coproc LIVE { (echo one; sleep 2; echo two; sleep 1) | openssl s_client -connect "127.0.0.1:$P" -quiet 2>/dev/null; }
sleep 0.5
cp "$TT/b/cert.pem" "$TT/b/key.pem" "$TT/live/"
kill -HUP "$FL_PID"
wait_for 5 grep -q "event=reload" "$FL_LOG"
check serves_b_after_rotation wait_for 5 eval '[ "$(fp)" = "$fpb" ]'
out=$(timeout 10 cat <&"${LIVE[0]}")
check live_conn_survives test "$(tr '\n' ' ' <<<"$out")" = "one two "
# a broken key: the reload is refused, the old TLS keeps serving
echo junk >"$TT/live/key.pem"
kill -HUP "$FL_PID"
check broken_reload_refused wait_for 5 grep -q "tls_key" "$FL_LOG"
check still_serves_b test "$(fp)" = "$fpb"
cp "$TT/b/key.pem" "$TT/live/"
# TLS off: plain from now on
write
kill -HUP "$FL_PID"
sleep 0.5
check tls_off_plain eval '[ "$("$TBIN/flpeer" echo 127.0.0.1:$P 1000 | grep -c match=yes)" = 1 ]'
check only_the_refused_reload_errs eval '[ "$(grep "level=error" "$FL_LOG" | grep -vc "tls_key")" = 0 ]'
done_tests
