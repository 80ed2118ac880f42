#!/usr/bin/env bash
# profiles/scenarios/idle-in-transaction.ini end to end against a throwaway Postgres (phases 0.3x):
# the example service that closes a timed-out connection
# (its transaction ends) PASSes; --pg-leak on walks away from it, idle in transaction, and FAILs.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/catalog_lib.bash"

chmod 777 "$TT"
start_postgres || { fail postgres_started "$(tail -5 "$TT/pg.log" 2>/dev/null)"; done_tests; exit; }
cat_deps || { fail deps_started; done_tests; exit; }
DSN="host=127.0.0.1 port=$DBX user=postgres dbname=postgres application_name=checkout"
cat_run profiles/scenarios/idle-in-transaction.ini idletx-good 0.3 --dep off --pg "$DSN" --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak off
cat_expect idletx-good no-idle-in-transaction PASS
cat_run profiles/scenarios/idle-in-transaction.ini idletx-buggy 0.3 --dep off --pg "$DSN" --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak on
cat_expect idletx-buggy no-idle-in-transaction FAIL
check idletx_buggy_names_idle_in_transaction bash -c "grep -qi 'idle in transaction' '$OUTD/journal.json'"
done_tests
