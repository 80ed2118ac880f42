#!/usr/bin/env bash
# scripts/valgrind.sh [BUILD] -- `make valgrind`: the proxy's suite (tests/proxy/*.sh,
# or $TESTS) with every `faultline serve` running under valgrind memcheck (--leak-check=full,
# definite leaks count as errors), through a wrapper that tests/run.sh takes as $FL. Then reads every memcheck log:
# pass = no error and no definitely-lost byte in any of them. Test cases that fail only because
# valgrind makes faultline 20-50x slower are reported too, but the verdict line is about memory.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
command -v valgrind >/dev/null || { echo "valgrind missing: apt-get install valgrind"; exit 2; }
VG_DIR=$PWD/$BUILD/valgrind
rm -rf "$VG_DIR"; mkdir -p "$VG_DIR"
# every `faultline serve` a test starts (through start_fl or "$FL" itself) runs under memcheck:
# tests/run.sh takes $FL_WRAP as the faultline binary
cat >"$VG_DIR/faultline" <<WRAP
#!/bin/sh
if [ "\$1" = serve ]; then
    exec valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=99 \\
        --log-file="$VG_DIR/vg.%p.log" "$PWD/$BUILD/faultline" "\$@"
fi
exec "$PWD/$BUILD/faultline" "\$@"
WRAP
chmod +x "$VG_DIR/faultline"
# one script at a time (tests/run.sh's lanes off): memcheck is CPU-bound, 20-50x slower
export VALGRIND=1 VG_DIR FL_WRAP=$VG_DIR/faultline TEST_TIMEOUT=${TEST_TIMEOUT:-900} JOBS=${VALGRIND_JOBS:-1}
TESTS=${TESTS:-$(ls tests/proxy/*.sh)} bash tests/run.sh "$BUILD" | tee "$VG_DIR/suite.log"
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
