#!/usr/bin/env bash
# tests/run.sh BUILD_DIR -- the whole suite: unit tests, then every integration script.
# Each script prints "ok NAME" / "not ok NAME # why"; this runner counts them and ends with
# the line "N passed, N failed". Exit 1 if anything failed (or a script crashed/timed out).
# TESTS="tests/proxy/reload.sh ..." runs a subset.
#
# Lanes: up to JOBS scripts (default 3) run at the same time. The scripts spend most of their
# wall time sleeping on timers, servers and deadlines, so on 2 cores 3 lanes cut the suite to
# well under half (measured in docs/dev/notes.md). Every script is already isolated: its own
# mktemp dir, free ports, its own redis/postgres. Scripts start longest first (tests/times.txt:
# seconds per script from a lanes run; unknown scripts count as 30 s), so the long ones do not
# end up alone at the tail. The result lines come in sorted order, each printed as soon as it
# and every script before it have finished. Scripts named in SERIAL_TESTS (below, plus
# $SERIAL) run one at a time after the lanes, alone: those whose verdicts depend on timing
# too much to share the machine. JOBS=1 runs them one by one.
set -u
BUILD=${1:-build}
cd "$(dirname "$0")/.."
export BUILD FL="${FL_WRAP:-$PWD/$BUILD/faultline}" TBIN="$PWD/$BUILD/t"   # FL_WRAP: make valgrind
JOBS=${JOBS:-3}
# alone after the lanes: the verifier's verdicts on a real service's timing (backoff growth, a
# quiet window, a goroutine probe) that failed under 3-4 lanes on a machine at load 20+
# (and proxy/held.sh: 10,000 pairs take ~40,000 descriptors and 20,000 ephemeral ports for
# a few seconds, which other scripts' connects should not have to share; hardening/http_memory.sh:
# 1,000 flooding connections keep both cores busy for 15 s and measure a good client's latency;
# faults/loss.sh: its stalls must sit on the RTO ladder, and a lane beside fuzz_smoke woke a
# 150 ms stall 179 ms late, off every step's window)
SERIAL_TESTS="faults/loss.sh run/action.sh run/catalog_drops.sh run/demo_pair.sh run/go_bugs.sh proxy/held.sh hardening/http_memory.sh ${SERIAL:-}"
passed=0 failed=0
mkdir -p "${TEST_LOGS:-/tmp}"
LOGDIR=$(mktemp -d "${TEST_LOGS:-/tmp}/flrun.XXXXXX") || { echo "tests/run.sh: cannot make a log folder under ${TEST_LOGS:-/tmp}" >&2; exit 2; }   # TEST_LOGS: another parent folder
suite_start=$(date +%s)

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
scripts=$(printf '%s\n' $scripts | sort)   # the report order
logof() { local n=${1#tests/}; echo "$LOGDIR/${n//\//_}"; }   # prefix: .log .rc .secs

# one script: its log, then its exit status and seconds (written last: "finished")
run_one() {
    local s=$1 out start rc
    out=$(logof "$s")
    start=$(date +%s)
    timeout -k 5 ${TEST_TIMEOUT:-300} bash "$s" >"$out.log" 2>&1
    rc=$?
    echo $(( $(date +%s) - start )) >"$out.secs"
    echo "$rc" >"$out.rc"
}

# report one finished script (the old serial runner's lines)
report() {
    local s=$1 name=${1#tests/} out log rc p f
    out=$(logof "$s"); log=$out.log; rc=$(cat "$out.rc")
    p=$(grep -c '^ok ' "$log"); f=$(grep -c '^not ok ' "$log")
    echo "== $name: $p ok, $f not ok ($(cat "$out.secs")s)"
    count "$log" "$name"
    # a part not run for want of a tool or a download says so in the summary, never silently
    if grep -Eiq '^(# skip|ok .* # skip)' "$log"; then
        skipped+=("$name: $(grep -Eim1 '^(# skip|ok .* # skip)' "$log" | sed -E 's/^(# [sS][kK][iI][pP]|ok .* # [sS][kK][iI][pP]):? *//' | cut -c1-160)")
        echo "  [$name] skip: ${skipped[-1]#*: }"
    fi
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "  [$name] script exited $rc with no failed case (crash or timeout):"
        tail -n 15 "$log" | sed 's/^/    /'
        failed=$((failed + 1))
    elif [ "$f" -gt 0 ]; then
        grep -v '^ok ' "$log" | tail -n 60 | sed 's/^/    /'
    fi
}

# start order: lanes longest first (tests/times.txt), then the serial ones
est() { local t; t=$(awk -v n="${1#tests/}" '$1 == n { print $2 }' tests/times.txt 2>/dev/null); echo "${t:-30}"; }
is_serial() { case " $SERIAL_TESTS " in *" $1 "*|*" ${1#tests/} "*) return 0;; esac; return 1; }
lanes=() serial=()
while read -r _ s; do
    if is_serial "$s"; then serial+=("$s"); else lanes+=("$s"); fi
done < <(for s in $scripts; do echo "$(est "$s") $s"; done | sort -k1,1nr -k2,2)

skipped=()    # "script: reason" of the scripts that skipped a part
reported=()   # sorted names, printed up to the first unfinished one
flush() {
    local s rest=()
    for s in $pending_report; do
        if [ ${#rest[@]} -eq 0 ] && [ -e "$(logof "$s").rc" ]; then report "$s"; else rest+=("$s"); fi
    done
    pending_report="${rest[*]:-}"
}
pending_report=$scripts
nrunning() { jobs -rp | wc -l; }
for s in "${lanes[@]}"; do
    while [ "$(nrunning)" -ge "$JOBS" ]; do wait -n; flush; done
    run_one "$s" &
done
while [ "$(nrunning)" -gt 0 ]; do wait -n; flush; done
wait
for s in "${serial[@]}"; do run_one "$s"; flush; done
flush
if [ ${#skipped[@]} -gt 0 ]; then
    echo "skipped parts in ${#skipped[@]} scripts (a tool or a download missing here):"
    printf '  %s\n' "${skipped[@]}"
fi
echo "logs: $LOGDIR ($JOBS lanes, $(( $(date +%s) - suite_start )) s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
