#!/usr/bin/env bash
# profiles/scenarios/connection-leak.ini end to end, good and buggy at once (phases 0.3x, within 3s): a service
# that closes the connection of a call it gives up on PASSes check = recovery; --leak on walks
# away from it (a pooled connection never returned) and FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX='s/^within = 5s/within = 3s/'
cat_pair profiles/scenarios/connection-leak.ini leak 0.3 "--pool 8 --timeout 500 --leak off" "--pool 8 --timeout 500 --leak on"
cat_expect leak-good connections-back-to-baseline PASS
cat_expect leak-buggy connections-back-to-baseline FAIL
done_tests
