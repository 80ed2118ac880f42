#!/usr/bin/env bash
# profiles/scenarios/pg-pool-exhaustion.ini end to end against a throwaway Postgres (phases 0.2x):
# the example service with a pool of 5 and a deadline
# PASSes both checks (proxy-side pool, pg_stat_activity); with no pool bound and no timeout it
# FAILs them (more than 20 sessions).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

chmod 777 "$TT"
start_postgres || { fail postgres_started "$(tail -5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
cat_deps || { fail deps_started; done_tests; exit; }
DSN="host=127.0.0.1 port=$DBX user=postgres dbname=postgres application_name=checkout"
cat_run profiles/scenarios/pg-pool-exhaustion.ini pgpool-good 0.2 --dep off --pg "$DSN" --pg-pool 5 --timeout 1000
cat_expect pgpool-good db-connections-bounded PASS
cat_expect pgpool-good db-side-bounded PASS
cat_run profiles/scenarios/pg-pool-exhaustion.ini pgpool-buggy 0.2 --dep off --pg "$DSN" --pg-pool 0 --timeout 0
cat_expect pgpool-buggy db-connections-bounded FAIL
cat_expect pgpool-buggy db-side-bounded FAIL
done_tests
