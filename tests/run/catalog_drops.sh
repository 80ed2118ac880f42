#!/usr/bin/env bash
# profiles/scenarios/drops-resets.ini end to end, good and buggy at once (phases 0.3x, the recovery's
# within cut to 2 s): the example service that retries twice with a growing pause PASSes both expectations (no leaked
# connections, bounded retries); one that retries six times at once FAILs check = retries.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX='s/^within = 5s/within = 2s/'
cat_pair profiles/scenarios/drops-resets.ini drops 0.3 "--pool 8 --timeout 500 --retries 2 --backoff on" \
    "--pool 8 --timeout 500 --retries 6 --backoff off"
cat_expect drops-good no-leaked-connections PASS
cat_expect drops-good bounded-retries PASS
check drops_good_saw_resets_and_drops bash -c "grep -q '\"fault\": \"payments-reset\"' '$OUTD/journal.json' && grep -q '\"fault\": \"payments-drop\"' '$OUTD/journal.json'"
cat_expect drops-buggy bounded-retries FAIL
check drops_buggy_names_retry_storm bash -c "grep -q 'retry storm' '$OUTD/journal.json'"
done_tests
