#!/bin/sh
# restart.sh PIDFILE -- restart a running go-service the way a deploy does: SIGTERM the
# instance whose pid is in PIDFILE (it was started with -pidfile PIDFILE), wait until it is
# gone (at most 15 s), start the same command line again, detached (setsid, output appended to
# PIDFILE.log), and wait until the new instance has written its pid (it does so once listening).
# Used as an [action] by profiles/go-no-graceful.ini. Exit 0 when the new instance is up.
set -u
pidf=$1
pid=$(cat "$pidf") || exit 1
[ -r "/proc/$pid/cmdline" ] || { echo "restart.sh: no process $pid" >&2; exit 1; }
cmd=$(mktemp)
cp "/proc/$pid/cmdline" "$cmd"          # NUL-separated argv, read before it goes away
dir=$(readlink "/proc/$pid/cwd")
kill -TERM "$pid"
i=0
while [ -d "/proc/$pid" ] && [ "$(awk '/^State:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" != Z ]; do
    i=$((i + 1)); [ $i -gt 750 ] && { echo "restart.sh: $pid still running after 15 s" >&2; exit 1; }
    sleep 0.02
done
echo "old instance $pid gone"
rm -f "$pidf"
(cd "$dir" && setsid xargs -0 -a "$cmd" sh -c 'exec "$@"' restart >>"$pidf.log" 2>&1 </dev/null &)
i=0
until [ -s "$pidf" ]; do
    i=$((i + 1)); [ $i -gt 500 ] && { echo "restart.sh: the new instance did not start" >&2; rm -f "$cmd"; exit 1; }
    sleep 0.02
done
rm -f "$cmd"
echo "new instance $(cat "$pidf") listening"
