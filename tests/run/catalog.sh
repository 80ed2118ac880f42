#!/usr/bin/env bash
# Every profile of the catalog passes `faultline check`, says which bug it exposes and what a
# good service does, and is listed in docs/catalog.md. Every fault type and check the catalog
# uses is built in now: a profile that does not pass `faultline check` is a failure, never a skip.
# (Each scenario is also run end to end, good and buggy: tests/run/catalog_*.sh.)
. "$(dirname "$0")/../lib.sh"

n=0
for p in profiles/*.ini; do
    name=$(basename "$p" .ini)
    n=$((n + 1))
    out=$("$FL" check "$p" 2>&1); rc=$?
    if [ $rc = 0 ]; then
        pass "check_$name"
    else
        fail "check_$name" "$out"
    fi
    [ "$name" = passthrough ] && continue
    check "comment_bug_$name" grep -qi "^; Bugs\? it exposes:" "$p"
    check "comment_good_$name" grep -qi "^; What a good service does:" "$p"
    check "has_phases_$name" grep -q '^\[phase ' "$p"
    check "has_expect_$name" grep -q '^\[expect ' "$p"
    check "in_catalog_doc_$name" grep -q "profiles/$name.ini" docs/catalog.md
    # run end to end by a test (a catalog_*.sh, the demo pair or the Postgres catalog test)
    check "run_end_to_end_$name" bash -c "grep -l 'profiles/$name.ini' tests/run/*.sh | grep -qv 'tests/run/catalog.sh'"
done
check catalog_has_ten_scenarios [ "$(ls profiles/*.ini | grep -vc passthrough)" -ge 10 ]
done_tests
