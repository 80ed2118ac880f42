#!/bin/sh
# restart.sh PIDFILE -- restart a running go-service the way a deploy does: SIGTERM the instance
# whose pid is in PIDFILE (it was started with -pidfile PIDFILE), start the same command line
# again at once, detached (setsid, output appended to PIDFILE.log), wait until the new instance
# has written its pid (it does so once serving), then until the old one is gone (each at most
# 15 s). Exit 0 when the new instance is serving and the old one has exited.
#
# The new instance is started without waiting for the old one to exit: with -handover PATH
# (handover.go) it takes the listening socket over from the old instance, which keeps it open
# while it drains, so no connection is refused or reset in between; without -handover it
# binds the address as soon as the old instance has released it (it retries while in use).
# Used as the [action] of profiles/scenarios/go-no-graceful.ini.
set -u
pidf=$1
read -r pid <"$pidf" || exit 1
# as little as possible before the SIGTERM (shell builtins, one cp): the scenario's window
# starts when this script does, and what it judges is what was in flight at the signal
cmd=$pidf.cmdline
cp "/proc/$pid/cmdline" "$cmd" 2>/dev/null || { echo "restart.sh: no process $pid" >&2; exit 1; }
trap 'rm -f "$cmd"' EXIT                 # NUL-separated argv, read before the process goes away
dir=$(cd "/proc/$pid/cwd" && pwd -P) || exit 1
kill -TERM "$pid" || exit 1
rm -f "$pidf"                           # the new instance writes it once serving
echo "SIGTERM sent to $pid"
(cd "$dir" && setsid xargs -0 -a "$cmd" sh -c 'exec "$@"' restart >>"$pidf.log" 2>&1 </dev/null &)
gone() { [ ! -d "/proc/$pid" ] || [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" = Z ]; }
i=0
until [ -s "$pidf" ]; do
    i=$((i + 1)); [ $i -gt 750 ] && { echo "restart.sh: the new instance did not start" >&2; exit 1; }
    sleep 0.02
done
echo "new instance $(cat "$pidf") serving"
i=0
until gone; do
    i=$((i + 1)); [ $i -gt 750 ] && { echo "restart.sh: $pid still running after 15 s" >&2; exit 1; }
    sleep 0.02
done
echo "old instance $pid gone"
