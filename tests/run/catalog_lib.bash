# catalog_lib.bash -- sourced by tests/run/catalog_*.sh (after ../lib.sh): runs one catalog
# profile end to end against the example service, good and buggy.
#
#   cat_deps                  start the payments (and inventory) stand-ins on free ports; DBX is
#                             the port the Postgres proxy (profile's 15433) moves to, PGPORT
#                             (start_postgres) the real Postgres (profile's 5432)
#   cat_run PROFILE TAG SCALE SERVICE_FLAGS...
#                             rewrite the profile's fixed addresses to free ports, start the
#                             service with the flags, `faultline run --scale SCALE`, stop the
#                             service. Sets RC (exit status) and OUTD (the run's directory).
#                             SEDX: one more sed expression for the profile (an [expect] bound
#                             that --scale does not shorten, e.g. a recovery's `within`).
#   cat_pair PROFILE TAG SCALE "GOOD FLAGS" "BUGGY FLAGS"
#                             cat_run for TAG-good and TAG-buggy at the same time (their own
#                             ports, services and faultline runs): half the wall time. The flags
#                             are split on blanks (no DSN with spaces: run those one by one).
#   cat_verdict NAME          the verdict of expectation NAME in OUTD/journal.json
#   cat_why NAME              its reason
#   cat_expect TAG EXPECTATION WANT   one `ok`/`not ok` line: the run TAG exited as WANT
#                             (PASS 0 / FAIL 1) and EXPECTATION has that verdict
# Every process a run starts is written to $TT/pids-TAG, so the test's exit kills them even
# when a run in the background was cut short.
SVC=$BUILD/examples/service

cat_deps() {
    PAY=$(free_port); INVP=$(free_port); DBX=$(free_port)
    "$SVC" --payments --listen 127.0.0.1:$PAY 2>"$TT/pay.log" &
    _PIDS+=($!)
    "$SVC" --payments --listen 127.0.0.1:$INVP 2>"$TT/inv.log" &
    _PIDS+=($!)
    wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$PAY/healthz" &&
        wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$INVP/healthz"
}

cat_cleanup() {
    local f
    for f in "$TT"/pids-*; do [ -e "$f" ] && kill -TERM $(cat "$f") 2>/dev/null; done
    cleanup
}
trap cat_cleanup EXIT

cat_run() {  # PROFILE TAG SCALE FLAGS...
    local prof=$1 tag=$2 scale=$3; shift 3
    local SP PX IX
    SP=$(free_port); PX=$(free_port); IX=$(free_port)
    sed -e "s/127\.0\.0\.1:14080/127.0.0.1:$SP/g; s/127\.0\.0\.1:14001/127.0.0.1:$PX/g" \
        -e "s/127\.0\.0\.1:14901/127.0.0.1:$PAY/g; s/127\.0\.0\.1:14002/127.0.0.1:$IX/g" \
        -e "s/127\.0\.0\.1:14902/127.0.0.1:$INVP/g" -e "s/127\.0\.0\.1:15433/127.0.0.1:$DBX/g" \
        -e "s/127\.0\.0\.1:5432\$/127.0.0.1:${PGPORT:-5432}/; s/port=5432 /port=${PGPORT:-5432} /" \
        -e "${SEDX:-}" "$prof" >"$TT/$tag.ini"
    "$SVC" --listen 127.0.0.1:$SP --dep 127.0.0.1:$PX --inventory 127.0.0.1:$IX "$@" 2>"$TT/svc-$tag.log" &
    local S=$! R
    _PIDS+=($S)
    echo "$S" >"$TT/pids-$tag"
    wait_for 10 curl -s -m 1 -o /dev/null "http://127.0.0.1:$SP/healthz" || echo "service $tag did not start" >&2
    OUTD="$TT/out-$tag"
    "$FL" run "$TT/$tag.ini" --scale "$scale" --out "$OUTD" >"$TT/run-$tag.out" 2>"$TT/run-$tag.err" &
    R=$!
    echo "$S $R" >"$TT/pids-$tag"
    wait "$R"
    RC=$?
    echo "$RC" >"$TT/rc-$tag"
    curl -s -m 1 "http://127.0.0.1:$SP/stats" >"$TT/stats-$tag" 2>/dev/null
    stop_pid $S
    rm -f "$TT/pids-$tag"
}

cat_pair() {  # PROFILE TAG SCALE "GOOD FLAGS" "BUGGY FLAGS"
    local g b
    # shellcheck disable=SC2086
    cat_run "$1" "$2-good" "$3" $4 &
    g=$!
    # shellcheck disable=SC2086
    cat_run "$1" "$2-buggy" "$3" $5 &
    b=$!
    wait "$g" "$b"
}

cat_verdict() {
    python3 -c "import json,sys; j=json.load(open('$OUTD/journal.json'))
print(next((v['verdict'] for v in j.get('verdicts') or [] if v['name']=='$1'), 'none'))" 2>/dev/null || echo none
}
cat_why() {
    python3 -c "import json,sys; j=json.load(open('$OUTD/journal.json'))
print(next((v.get('why','') + ' | ' + v.get('measured','') for v in j.get('verdicts') or [] if v['name']=='$1'), ''))" 2>/dev/null
}

cat_expect() {  # TAG EXPECTATION WANT(PASS|FAIL)
    local tag=$1 ex=$2 want=$3 v why code
    OUTD="$TT/out-$tag"
    RC=$(cat "$TT/rc-$tag" 2>/dev/null || echo none)
    v=$(cat_verdict "$ex"); why=$(cat_why "$ex")
    code=0; [ "$want" = FAIL ] && code=1
    if [ "$v" = "$want" ] && [ "$RC" = "$code" ]; then
        pass "${tag}_${ex}_${want}"
    else
        fail "${tag}_${ex}_${want}" "exit $RC, $ex: $v ($why); $(tail -n 3 "$TT/run-$tag.err" | tr '\n' ' ')"
    fi
    echo "# $tag: $ex $v exit $RC: $why"
}
