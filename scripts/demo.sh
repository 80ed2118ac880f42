#!/usr/bin/env bash
# scripts/demo.sh -- `make demo`: faultline end to end in about a minute and a half.
#
# Installs what is missing (install-deps.sh demo), builds, starts the example payments API and
# the example checkout service behind faultline, and runs two catalog scenarios
# (profiles/scenarios/hung-dependency.ini and profiles/scenarios/pool-exhaustion.ini) against the
# service configured well (timeout 500 ms, pool of 8, breaker on) and with the bugs (no timeout,
# unbounded pool, no breaker). Prints the verdicts (the buggy service fails, and the report says
# why) and where the reports are. Exit 0 when the verdicts are the expected ones: every good run
# passes and every buggy run fails.
#
# Everything listens on 127.0.0.1 only. DEMO_SCENARIOS="a b" picks other catalog entries; a
# scenario that names a `postgres` DSN gets a throwaway Postgres cluster for the demo.
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${BUILD:-build}
FL=$ROOT/$BUILD/faultline
SVC=$ROOT/$BUILD/examples/service
SCENARIOS=${DEMO_SCENARIOS:-hung-dependency pool-exhaustion}
# the service's switches per scenario and configuration
PGDSN="host=127.0.0.1 port=15433 user=postgres dbname=postgres application_name=checkout"
flags_for() {  # SCENARIO good|buggy
    case "$1:$2" in
    pg-pool-exhaustion:good)   echo "--dep off --pg-pool 5 --timeout 1000" ;;
    pg-pool-exhaustion:buggy)  echo "--dep off --pg-pool 0 --timeout 0" ;;
    idle-in-transaction:good)  echo "--dep off --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak off" ;;
    idle-in-transaction:buggy) echo "--dep off --pg-pool 5 --pg-tx on --timeout 1000 --pg-leak on" ;;
    *:good)  echo "--timeout 500 --pool 8 --breaker on" ;;
    *:buggy) echo "--timeout 0 --pool 0 --breaker off" ;;
    esac
}
STAMP=$(date +%Y%m%d-%H%M%S)
OUTROOT=$ROOT/runs/demo-$STAMP
WORK=$(mktemp -d /tmp/fldemo.XXXXXX)
PIDS=()
PGDATA_DIR=

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
cleanup() {
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    if [ -n "$PGDATA_DIR" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() {  # URL SECONDS
    for _ in $(seq 1 $(($2 * 20))); do curl -s -m 1 -o /dev/null "$1" && return 0; sleep 0.05; done
    return 1
}
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

t_start=$(date +%s)
say "dependencies"
scripts/install-deps.sh demo || exit 1
say "build"
make -s -j2 BUILD="$BUILD" all >/dev/null || { echo "demo: build failed (run make to see why)" >&2; exit 1; }

for p in 14080 14001 14901; do
    if port_busy $p; then echo "demo: 127.0.0.1:$p is in use; the demo needs ports 14080, 14001 and 14901" >&2; exit 1; fi
done

# a throwaway Postgres, only if a chosen scenario needs one
for s in $SCENARIOS; do
    if grep -q '^postgres *=' "profiles/scenarios/$s.ini" && [ -z "$PGDATA_DIR" ]; then
        say "throwaway Postgres on 127.0.0.1:5432"
        port_busy 5432 && { echo "demo: 127.0.0.1:5432 is in use (a packaged Postgres? systemctl stop postgresql)" >&2; exit 1; }
        PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
        PGDATA_DIR=$WORK/pg
        mkdir -p "$PGDATA_DIR" && chown postgres "$PGDATA_DIR" "$WORK"
        runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA_DIR" -A trust -U postgres >/dev/null &&
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA_DIR" -l "$WORK/pg.log" -w -t 30 \
            -o "-p 5432 -k $WORK -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null ||
            { echo "demo: could not start Postgres (see $WORK/pg.log)" >&2; exit 1; }
    fi
done

say "the payments API (127.0.0.1:14901)"
"$SVC" --payments --listen 127.0.0.1:14901 2>"$WORK/payments.log" &
PIDS+=($!)
wait_http http://127.0.0.1:14901/healthz 10 || { echo "demo: payments did not start" >&2; exit 1; }

mkdir -p "$OUTROOT"
results=()
all_ok=1
for cfg in good buggy; do
    for s in $SCENARIOS; do
        flags=$(flags_for "$s" $cfg)
        pg=(); case "$flags" in *--pg-pool*) pg=(--pg "$PGDSN") ;; esac
        say "checkout service, $cfg: service $flags"
        "$SVC" --listen 127.0.0.1:14080 --dep 127.0.0.1:14001 $flags "${pg[@]}" 2>"$WORK/service-$cfg.log" &
        SP=$!
        PIDS+=($SP)
        wait_http http://127.0.0.1:14080/healthz 10 || { echo "demo: the service did not start" >&2; exit 1; }
        out=$OUTROOT/$s-$cfg
        say "faultline run profiles/scenarios/$s.ini  (service: $cfg)"
        "$FL" run "profiles/scenarios/$s.ini" --out "$out" </dev/null
        rc=$?
        expect=0; [ $cfg = buggy ] && expect=1
        ok=yes; [ $rc = $expect ] || { ok=NO; all_ok=0; }
        why=$(sed -n 's/^ *"why": "\(.\+\)",\?$/\1/p' "$out/journal.json" 2>/dev/null | head -n1)
        results+=("$s|$cfg|$rc|$expect|$ok|$out/report.html|$why")
        kill -TERM $SP 2>/dev/null; wait $SP 2>/dev/null
        sleep 0.3
    done
done

echo
say "verdicts"
printf '%-18s %-6s %-13s %-9s %s\n' SCENARIO CONFIG VERDICT EXPECTED "AS EXPECTED"
for r in "${results[@]}"; do
    IFS='|' read -r s cfg rc expect ok rep why <<<"$r"
    v=$(case $rc in 0) echo PASS ;; 1) echo FAIL ;; 3) echo INCONCLUSIVE ;; *) echo "ERROR($rc)" ;; esac)
    e=$( [ "$expect" = 0 ] && echo PASS || echo FAIL )
    printf '%-18s %-6s %-13s %-9s %s\n' "$s" "$cfg" "$v" "$e" "$ok"
    [ -n "$why" ] && [ "$rc" != 0 ] && printf '    why: %s\n' "$why"
done
echo
say "reports"
for r in "${results[@]}"; do IFS='|' read -r s cfg rc expect ok rep why <<<"$r"; echo "  $rep"; done
echo
t=$(( $(date +%s) - t_start ))
if [ $all_ok = 1 ]; then
    say "demo done in ${t}s: the good service passed every scenario, the buggy one failed them"
    exit 0
fi
say "demo done in ${t}s: some verdicts were not the expected ones (see above)"
exit 1
