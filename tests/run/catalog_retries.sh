#!/usr/bin/env bash
# profiles/scenarios/retry-storm.ini end to end, good and buggy at once (phases 0.3x): --retries 2 --backoff on PASSes check = retries; --retries 6 --backoff off FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX=''
cat_pair profiles/scenarios/retry-storm.ini retries 0.3 "--retries 2 --backoff on --timeout 500" "--retries 6 --backoff off --timeout 500"
cat_expect retries-good bounded-retries PASS
cat_expect retries-buggy bounded-retries FAIL
done_tests
