#!/usr/bin/env bash
# scripts/fuzz.sh BUILD SECONDS|smoke -- runs every libFuzzer harness in BUILD/fuzz on a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME), SECONDS each, or 60 s in all for
# "smoke". ONLY="fuzz_http fuzz_admin" runs just those. Prints "ok fuzz_NAME ... execs_per_s=…
# cov=… ft=…" (libFuzzer's last stats line) or "not ok fuzz_NAME # crash…" per harness.
set -u
BUILD=${1:-build-fuzz}
SECS=${2:-600}
cd "$(dirname "$0")/.."
bins=$(ls "$BUILD"/fuzz/fuzz_* 2>/dev/null)
if [ -n "${ONLY:-}" ]; then bins=$(for o in $ONLY; do ls "$BUILD/fuzz/$o" 2>/dev/null; done); fi
n=$(echo "$bins" | wc -w)
[ "$n" -gt 0 ] || { echo "not ok fuzz # no harnesses built in $BUILD/fuzz"; exit 1; }
if [ "$SECS" = smoke ]; then SECS=$((60 / n)); [ "$SECS" -lt 5 ] && SECS=5; fi
# in a private network namespace where we may (unshare -n, as root): fuzz_admin binds the
# listen addresses its inputs name, which must not collide with other tests' ports
USE_NS=""
unshare -n true 2>/dev/null && USE_NS=1
run_ns() {
    if [ -n "$USE_NS" ]; then unshare -n sh -c 'ip link set lo up 2>/dev/null; exec "$0" "$@"' "$@"; else "$@"; fi
}
rc=0
for b in $bins; do
    name=$(basename "$b")
    work=$(mktemp -d /tmp/fuzz.XXXXXX)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    log="$work.log"
    ASAN_OPTIONS=detect_leaks=1 run_ns "$b" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="$work/crash-" "$work" >"$log" 2>&1
    r=$?
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n1)
    execs=$(echo "$stats" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    cov=$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    ft=$(echo "$stats" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
    runs=$(echo "$stats" | sed -n 's/^#\([0-9]*\).*/\1/p')
    if [ $r -eq 0 ]; then
        echo "ok $name secs=$SECS runs=${runs:-?} execs_per_s=${execs:-?} cov=${cov:-?} ft=${ft:-?}"
        rm -rf "$work" "$log"
    else
        echo "not ok $name # exit $r; see $log"
        grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5 | sed 's/^/#   /'
        ls "$work"/crash-* 2>/dev/null | sed 's/^/#   artifact: /'
        rc=1   # the log and the crash artifacts stay for a look
    fi
done
exit $rc
