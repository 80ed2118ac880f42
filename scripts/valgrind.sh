#!/usr/bin/env bash
# scripts/valgrind.sh [BUILD] -- `make valgrind`: the integration suite (tests/integration/*.sh,
# or $TESTS) with every faultline that tests/lib.sh's start_fl starts running under valgrind
# memcheck (--leak-check=full, definite leaks count as errors). Then reads every memcheck log:
# pass = no error and no definitely-lost byte in any of them. Test cases that fail only because
# valgrind makes faultline 20-50x slower are reported too, but the verdict line is about memory.
# (Tests that run "$FL" themselves instead of start_fl are not covered.)
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind"; exit 2; }
VG_DIR=$PWD/$BUILD/valgrind
rm -rf "$VG_DIR"; mkdir -p "$VG_DIR"
export VALGRIND=1 VG_DIR TEST_TIMEOUT=${TEST_TIMEOUT:-900}
TESTS=${TESTS:-$(ls tests/integration/*.sh)} bash tests/run.sh "$BUILD" | tee "$VG_DIR/suite.log"
suite_rc=${PIPESTATUS[0]}
logs=$(ls "$VG_DIR"/vg.*.log 2>/dev/null | wc -l)
bad=0
for f in "$VG_DIR"/vg.*.log; do
    [ -e "$f" ] || continue
    # --quiet logs nothing but errors (definite leaks included) and valgrind's own warnings
    if grep -v -E '^==[0-9]+== (Warning|   (by|at) |$)|^$' "$f" | grep -q .; then
        echo "valgrind: report in $f:"; head -n 40 "$f" | sed 's/^/    /'
        bad=$((bad + 1))
    fi
done
echo "valgrind: $logs faultline processes checked, $bad with memcheck reports (logs: $VG_DIR)"
echo "valgrind: suite under valgrind exited $suite_rc"
[ "$logs" -gt 0 ] && [ "$bad" -eq 0 ]
