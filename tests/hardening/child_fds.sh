#!/usr/bin/env bash
# Children inherit none of faultline's descriptors (issue 20, L5; docs/security.md "Child
# processes"): during a `faultline run` with proxies, a client connection through one of them
# (its upstream named, so libevent makes the socket), the admin API and the record's Redis
# connection all open, the load command, an [action] and the embedded redis-server list their
# own descriptors (/proc/PID/fd). None may be a socket, a pipe or an event descriptor of the
# runner's: the load and the action hold only their stdin, stdout and stderr (files), not even
# a pipe the runner itself inherited.
. "$(dirname "$0")/../lib.sh"

start_peer UP 127.0.0.1:0 echo
LP=$(free_port); AP=$(free_port)
cat >"$TT/s.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
[scenario]
name = children start clean
load = sleep 1.5; ls -l /proc/\$\$/fd >$TT/load.fds; sleep 30
[proxy named]
listen = 127.0.0.1:$LP
upstream = localhost:$UP
[phase one]
duration = 3s
[action look]
at = one+1500ms
run = ls -l /proc/\$\$/fd >$TT/action.fds
INI
chmod 600 "$TT/s.ini"
"$FL" run "$TT/s.ini" --out "$TT/out" >"$TT/run.out" 2>"$TT/run.err" &
RUN=$!
_PIDS+=($RUN)
wait_port "$LP" 10
# a pair open while the children look
python3 -c "import socket,time; s=socket.create_connection(('127.0.0.1',$LP)); s.send(b'x'); s.recv(1); time.sleep(2.5)" &
CL=$!
sleep 1
REDIS=$(pgrep -P "$RUN" redis-server | head -n1)
ls -l "/proc/$REDIS/fd" >"$TT/redis.fds" 2>/dev/null
ls -l "/proc/$RUN/fd" >"$TT/runner.fds" 2>/dev/null
wait "$CL"
wait "$RUN"
echo "# runner: $(grep -c 'socket:' "$TT/runner.fds") sockets; load: $(grep -c -- '->' "$TT/load.fds" 2>/dev/null) fds"
check runner_had_sockets [ "$(grep -c 'socket:' "$TT/runner.fds")" -ge 4 ]
# the runner's sockets and pipes, by inode
grep -o -E '(socket|pipe):\[[0-9]+\]' "$TT/runner.fds" | sort -u >"$TT/runner.set"
foreign() { grep -o -E '(socket|pipe):\[[0-9]+\]' "$1" | sort -u | comm -12 - "$TT/runner.set"; }
# stdin, stdout, stderr (and the shell's own copies of them while it redirects): files only
only_std() { [ -s "$1" ] && ! grep -q -E 'socket:|pipe:|anon_inode:' "$1"; }
check load_listed test -s "$TT/load.fds"
check load_only_stdio only_std "$TT/load.fds"
check load_no_runner_fd [ -z "$(foreign "$TT/load.fds")" ]
check action_listed test -s "$TT/action.fds"
# an action's output goes to the runner through a pipe (captured for the journal): that one only
out_pipe() { grep -o -E ' 2 -> pipe:\[[0-9]+\]' "$1" | grep -o -E 'pipe:\[[0-9]+\]'; }
check action_only_stdio eval '! grep -q -E "socket:|anon_inode:" "$TT/action.fds" && [ -z "$(grep -o -E "pipe:\[[0-9]+\]" "$TT/action.fds" | grep -v -F "$(out_pipe "$TT/action.fds")")" ]'
check action_no_other_runner_fd [ -z "$(foreign "$TT/action.fds" | grep -v -F "$(out_pipe "$TT/action.fds")")" ]
check redis_listed test -s "$TT/redis.fds"
check redis_no_runner_fd [ -z "$(foreign "$TT/redis.fds")" ]
for f in load; do only_std "$TT/$f.fds" || { echo "# $f:"; sed "s/^/#   /" "$TT/$f.fds"; }; done
done_tests
