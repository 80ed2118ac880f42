#!/usr/bin/env bash
# Every scenario of the catalog (profiles/scenarios/*.ini) passes `faultline check`, says which bug
# it exposes and what a good service does, and is listed in docs/catalog.md; every plain profile
# (profiles/*.ini) passes `faultline check` and holds no scenario section. Every fault type and
# check the catalog uses is built in: a file that does not pass `faultline check` is a failure,
# never a skip. (Each scenario is also run end to end, good and buggy: tests/run/catalog_*.sh.)
. "$(dirname "$0")/../lib.sh"

checked() {  # checked NAME FILE: `faultline check FILE` passes
    local out
    if out=$("$FL" check "$2" 2>&1); then pass "check_$1"; else fail "check_$1" "$out"; fi
}
for p in profiles/*.ini; do
    name=$(basename "$p" .ini)
    checked "$name" "$p"
    check "plain_profile_$name" bash -c "! grep -qE '^\[(scenario|phase|expect|action)\b' '$p'"
done
for p in profiles/scenarios/*.ini; do
    name=$(basename "$p" .ini)
    checked "$name" "$p"
    check "comment_bug_$name" grep -qi "^; Bugs\? it exposes:" "$p"
    check "comment_good_$name" grep -qi "^; What a good service does:" "$p"
    check "has_phases_$name" grep -q '^\[phase ' "$p"
    check "has_expect_$name" grep -q '^\[expect ' "$p"
    check "in_catalog_doc_$name" grep -q "profiles/scenarios/$name.ini" docs/catalog.md
    # run end to end by a test (a catalog_*.sh, the demo pair or the Postgres catalog test)
    check "run_end_to_end_$name" bash -c "grep -l 'profiles/scenarios/$name.ini' tests/run/*.sh | grep -qv 'tests/run/catalog.sh'"
done
check catalog_has_ten_scenarios [ "$(ls profiles/scenarios/*.ini | wc -l)" -ge 10 ]
done_tests
