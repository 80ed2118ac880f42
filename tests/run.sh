#!/usr/bin/env bash
# tests/run.sh BUILD_DIR -- the whole suite: unit tests, then every integration script.
# Each script prints "ok NAME" / "not ok NAME # why"; this runner counts them and ends with
# the line "N passed, N failed". Exit 1 if anything failed (or a script crashed/timed out).
# TESTS="tests/integration/daemon.sh ..." runs a subset.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
export BUILD FL="${FL_WRAP:-$PWD/$BUILD/faultline}" TBIN="$PWD/$BUILD/t"   # FL_WRAP: make valgrind
passed=0 failed=0
LOGDIR=$(mktemp -d /tmp/flrun.XXXXXX)

count() {  # count FILE NAME
    local p f
    p=$(grep -c '^ok ' "$1")
    f=$(grep -c '^not ok ' "$1")
    passed=$((passed + p)); failed=$((failed + f))
    grep '^not ok ' "$1" | sed "s|^|  [$2] |"
}

if [ -x "$BUILD/unit" ]; then
    echo "== unit"
    timeout 120 "$BUILD/unit" >"$LOGDIR/unit.log" 2>&1
    rc=$?
    count "$LOGDIR/unit.log" unit
    if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$LOGDIR/unit.log"; then
        echo "not ok unit-runner # exit $rc"; tail -n 20 "$LOGDIR/unit.log"; failed=$((failed + 1))
    fi
fi

scripts=${TESTS:-$(find tests -mindepth 2 -name '*.sh' ! -path 'tests/fuzz/*' | sort)}
for s in $scripts; do
    name=${s#tests/}
    start=$(date +%s)
    timeout -k 5 ${TEST_TIMEOUT:-300} bash "$s" >"$LOGDIR/${name//\//_}.log" 2>&1
    rc=$?
    log="$LOGDIR/${name//\//_}.log"
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
    echo "== $name: $p ok, $f not ok ($(( $(date +%s) - start ))s)"
    count "$log" "$name"
    if [ $rc -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  [$name] script exited $rc with no failed case (crash or timeout):"
        tail -n 15 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    elif [ "$f" -gt 0 ]; then
        grep -v '^ok ' "$log" | tail -n 25 | sed 's/^/    /'
    fi
done
echo "logs: $LOGDIR"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
