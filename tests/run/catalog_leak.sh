#!/usr/bin/env bash
# profiles/connection-leak.ini end to end (phases 0.3x, within 3s): a service that closes what it gives up on PASSes check = recovery; --leak on keeps every failed call's socket and FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX='s/^within = 5s/within = 3s/'
cat_run profiles/connection-leak.ini catalog_leak-good 0.3 --pool 8 --timeout 500 --leak off
cat_expect catalog_leak-good connections-back-to-baseline PASS
cat_run profiles/connection-leak.ini catalog_leak-buggy 0.3 --pool 8 --timeout 500 --leak on
cat_expect catalog_leak-buggy connections-back-to-baseline FAIL
done_tests
