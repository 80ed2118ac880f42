#!/usr/bin/env bash
# profiles/scenarios/slow-stream.ini end to end, good and buggy at once (phases 0.3x): an overall deadline (--deadline 1000) abandons the trickle (PASS check = timeout); an idle timeout alone (--timeout 500) never fires on it (FAIL).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

cat_deps || { fail deps_started; done_tests; exit; }
SEDX=''
cat_pair profiles/scenarios/slow-stream.ini slow_stream 0.3 "--pool 8 --timeout 500 --deadline 1000" "--pool 8 --timeout 500"
cat_expect slow_stream-good stream-abandoned PASS
cat_expect slow_stream-buggy stream-abandoned FAIL
done_tests
