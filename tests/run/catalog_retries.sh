#!/usr/bin/env bash
# profiles/retry-storm.ini end to end (phases 0.3x): --retries 2 --backoff on PASSes check = retries; --retries 6 --backoff off FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX=''
cat_run profiles/retry-storm.ini catalog_retries-good 0.3 --retries 2 --backoff on --timeout 500
cat_expect catalog_retries-good bounded-retries PASS
cat_run profiles/retry-storm.ini catalog_retries-buggy 0.3 --retries 6 --backoff off --timeout 500
cat_expect catalog_retries-buggy bounded-retries FAIL
done_tests
