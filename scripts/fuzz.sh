#!/usr/bin/env bash
# scripts/fuzz.sh BUILD SECONDS|smoke -- runs every libFuzzer harness in BUILD/fuzz on a
# scratch copy of its seed corpus (tests/fuzz/corpus/NAME), SECONDS each, or 60 s in all for
# "smoke". Prints "ok fuzz_NAME execs/s=… cov=…" or "not ok fuzz_NAME # crash…" per harness.
set -u
BUILD=${1:-build-fuzz}
SECS=${2:-600}
cd "$(dirname "$0")/.."
bins=$(ls "$BUILD"/fuzz/fuzz_* 2>/dev/null)
n=$(echo "$bins" | wc -w)
[ "$n" -gt 0 ] || { echo "not ok fuzz # no harnesses built in $BUILD/fuzz"; exit 1; }
if [ "$SECS" = smoke ]; then SECS=$((60 / n)); [ "$SECS" -lt 5 ] && SECS=5; fi
rc=0
for b in $bins; do
    name=$(basename "$b")
    work=$(mktemp -d /tmp/fuzz.XXXXXX)
    [ -d "tests/fuzz/corpus/$name" ] && cp -r "tests/fuzz/corpus/$name/." "$work/"
    log="$work.log"
    ASAN_OPTIONS=detect_leaks=1 "$b" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=1024 \
        -artifact_prefix="$work/crash-" "$work" >"$log" 2>&1
    r=$?
    stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -n1)
    execs=$(echo "$stats" | sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p')
    cov=$(echo "$stats" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
    if [ $r -eq 0 ]; then
        echo "ok $name secs=$SECS execs_per_s=${execs:-?} cov=${cov:-?}"
    else
        echo "not ok $name # exit $r; see $log"
        grep -E 'ERROR|SUMMARY|==[0-9]+==' "$log" | head -n 5 | sed 's/^/#   /'
        ls "$work"/crash-* 2>/dev/null | sed 's/^/#   artifact: /'
        rc=1
    fi
    rm -rf "$work"
done
exit $rc
