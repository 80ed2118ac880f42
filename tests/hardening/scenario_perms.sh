#!/usr/bin/env bash
# A scenario file is code (issue 20, L7; docs/security.md, docs/scenarios.md): its `load =` and
# [action] `run =` are shell commands, so `faultline run` refuses a file that someone other than
# the runner could have written -- writable by its group or by everyone, or owned by another user
# (root's files excepted) -- with exit 2 and a line that says how to fix it, before anything runs.
. "$(dirname "$0")/../lib.sh"

chmod 755 "$TT"
start_peer UP 127.0.0.1:0 echo
mk() {   # mk FILE: a scenario whose load leaves a marker
    local lp; lp=$(free_port)
    cat >"$1" <<INI
[scenario]
name = perms
load = touch $TT/ran.\$PPID; sleep 5
[proxy a]
listen = 127.0.0.1:$lp
upstream = 127.0.0.1:$UP
[phase one]
duration = 300ms
INI
}
run_as() {   # run_as USER FILE: exit status of faultline run, its stderr in $TT/err
    local u=$1 f=$2
    rm -f "$TT"/ran.*
    if [ "$u" = root ]; then "$FL" run "$f" --out "$TT/out" >/dev/null 2>"$TT/err"
    else runuser -u "$u" -- "$FLX" run "$f" --out "$TT/out.$u" >/dev/null 2>"$TT/err"; fi
}
ran() { ls "$TT"/ran.* >/dev/null 2>&1; }

mk "$TT/s.ini"
chmod 664 "$TT/s.ini"
run_as root "$TT/s.ini"; rc=$?
check group_writable_exit_2 [ "$rc" = 2 ]
check group_writable_says_why grep -q "s.ini: writable by its group (mode 0664).*runs commands.*chmod go-w" "$TT/err"
check group_writable_nothing_ran eval '! ran'

chmod 646 "$TT/s.ini"
run_as root "$TT/s.ini"; rc=$?
check world_writable_exit_2 [ "$rc" = 2 ]
check world_writable_says_why grep -q "writable by every user (mode 0646)" "$TT/err"
check world_writable_nothing_ran eval '! ran'

chmod 644 "$TT/s.ini"
chown nobody "$TT/s.ini"
run_as root "$TT/s.ini"; rc=$?
check foreign_owner_exit_2 [ "$rc" = 2 ]
check foreign_owner_says_why grep -q "owned by uid $(id -u nobody), not by the runner (uid 0) or root" "$TT/err"
check foreign_owner_nothing_ran eval '! ran'

chown root "$TT/s.ini"
run_as root "$TT/s.ini"; rc=$?
check own_file_runs [ "$rc" != 2 ]
check own_file_load_ran ran

# another user may run a root-owned scenario (installed under /usr/share, say), not one of its own
# that others can write
chmod 777 "$TT"
# The binary may sit where that user cannot reach it (a checkout under root's 0700 home, as on a
# bare machine): it runs a copy of it from the test's own directory.
FLX=$FL
runuser -u nobody -- test -x "$FL" || { cp "$FL" "$TT/faultline" && chmod 755 "$TT/faultline" && FLX=$TT/faultline; }
run_as nobody "$TT/s.ini"; rc=$?
check root_owned_runs_for_others eval "[ $rc != 2 ] || { cat '$TT/err'; false; }"
check root_owned_load_ran ran
done_tests
