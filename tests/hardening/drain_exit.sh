#!/usr/bin/env bash
# SIGTERM while clients read slowly from a fast upstream: the drain times out with connections
# still flushing; faultline logs drain_timeout and exits 0 soon after, and frees them (under
# `make asan` a connection that outlived its proxy at exit was a LeakSanitizer report).
. "$(dirname "$0")/../lib.sh"
start_peer SRC 127.0.0.1:0 source $((1024 * 1048576))
P=$(free_port)
printf '[faultline]\nadmin = off\ndrain = 1s\n[proxy s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$P" "$SRC" >"$TT/p.ini"
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
for i in 1 2 3; do "$TBIN/flstream" slowread "127.0.0.1:$P" 1000 30 >/dev/null 2>&1 & _PIDS+=($!); done
wait_for 10 eval '[ "$(ss -Htn state established "( dport = :$P )" | wc -l)" -ge 3 ]'
sleep 0.5
t0=$(date +%s%N)
kill -TERM "$FL_PID"
wait_for 20 eval '! kill -0 $FL_PID 2>/dev/null'
wait "$FL_PID"; rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
echo "# exit $rc after $ms ms"
check drain_timeout_logged grep -q 'event=drain_timeout' "$FL_LOG"
check exit_0_after_drain_timeout [ "$rc" = 0 ]
check exit_soon_after_drain within "$ms" 900 10000
done_tests
