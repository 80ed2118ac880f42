#!/usr/bin/env bash
# The command line's errors name what the user wrote, not the HTTP route behind it:
#   `ctl add` without a NAME (key=value where the name goes), and without type=/proxy=;
#   `ctl load FILE` with a bad profile: FILE:LINE: reason, checked before anything is sent;
#   `verify --help` lists every check of the registry (slo and graceful included).
. "$(dirname "$0")/../lib.sh"

AP=$(free_port); LP=$(free_port)
printf '[faultline]\nadmin = 127.0.0.1:%s\n[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:1\n' "$AP" "$LP" >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
ctl() { "$FL" ctl --admin "127.0.0.1:$AP" "$@"; }

out=$(ctl add type=latency proxy=db delay=100ms 2>&1); rc=$?
echo "# $out"
check add_without_name bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q \"missing the fault's NAME: 'type=latency' is a key=value\"" _ "$out"
out=$(ctl add lat proxy=db delay=100ms 2>&1); rc=$?
echo "# $out"
check add_without_type bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'add lat: missing type='" _ "$out"
out=$(ctl add lat type=latency 2>&1); rc=$?
echo "# $out"
check add_without_proxy bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'add lat: missing proxy='" _ "$out"
out=$(ctl add lat type=latency proxy=db delay=soon 2>&1); rc=$?
echo "# $out"
check add_bad_value_names_key bash -c "[ $rc = 1 ] && echo \"\$1\" | grep -q \"delay: 'soon' is not a duration\"" _ "$out"
check add_good ctl add lat type=latency proxy=db delay=100ms

{ cat "$TT/p.ini"; printf '[fault x]\nproxy = db\ntype = latency\ndelay = soon\n'; } >"$TT/bad.ini"
out=$(ctl load "$TT/bad.ini" 2>&1); rc=$?
echo "# $out"
check load_names_file_line bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q \"bad.ini:9: \\[fault x\\] delay: 'soon' is not a duration\"" _ "$out"
check load_not_the_route bash -c "! echo \"\$1\" | grep -q 'POST /profile'" _ "$out"
{ cat "$TT/p.ini"; printf '[fault x]\nproxy = nope\ntype = latency\n'; } >"$TT/bad2.ini"
out=$(ctl load "$TT/bad2.ini" 2>&1); rc=$?
echo "# $out"
check load_unknown_proxy_line bash -c "[ $rc = 2 ] && echo \"\$1\" | grep -q 'bad2.ini:7: \\[fault x\\] proxy: no \\[proxy nope\\]'" _ "$out"
check load_good ctl load "$TT/p.ini"

out=$("$FL" verify --help)
for c in timeout pool recovery breaker retries bulkhead postgres probe slo graceful retry_spacing retry_budget half_open shedding deadline deadline_propagation; do
    check "verify_help_lists_$c" bash -c "echo \"\$1\" | grep '^Checks:' | grep -qw '$c'" _ "$out"
done
done_tests
