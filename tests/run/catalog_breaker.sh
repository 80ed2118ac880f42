#!/usr/bin/env bash
# profiles/scenarios/error-burst.ini end to end (phases 0.3x): the example service with its breaker on PASSes check = breaker; with it off it FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
# min_drop 0.8 instead of the profile's 0.9: on a loaded machine the load generator slows down,
# the good service's probes weigh more (-91 % seen) and the buggy one's rate wobbles (-35 % seen)
SEDX='s/^min_drop = 0.9/min_drop = 0.8/'
cat_run profiles/scenarios/error-burst.ini catalog_breaker-good 0.3 --breaker on --timeout 500
cat_expect catalog_breaker-good breaker-opens-and-closes PASS
cat_run profiles/scenarios/error-burst.ini catalog_breaker-buggy 0.3 --breaker off --timeout 500
cat_expect catalog_breaker-buggy breaker-opens-and-closes FAIL
done_tests
