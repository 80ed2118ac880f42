# tests/verify/common.bash -- shared by tests/verify/*.sh (sourced after ../lib.sh).
#
# vverify FILE RUN [ARGS...]: runs `faultline verify` against the private redis; sets VRC (exit
#   status) and VOUT (the table and the why lines); prints the output as "# " comments.
# verdict NAME: the verdict column of expectation NAME in $VOUT.
# expect_verdict NAME VERDICT: a test case "NAME_VERDICT".
# Fixture writers (redis-cli, exactly the schema of docs/metrics.md), times in seconds relative
# to FX0 (a whole Unix second), for checks driven without a real recorder:
#   fx_run RUN START_S END_S [INST]            fl:runs, R:instances, R:meta
#   fx_window RUN FAULT PROXY TYPE START_S END_S [INST]   R:faults start/end (END_S "-" = open)
#   fx_fault RUN FAULT PROXY TYPE AFFECTED [INST]         R:fault:<proxy>:<f>:<inst>
#   fx_ts RUN PROXY SEC "new=.. peak=.. cur=.." [INST]    one bucket of R:ts
#   fx_ev RUN PROXY field value ...                       one R:events entry
# resilience_setup: RES_DIR = a directory with node_modules/cockatiel and node_modules/opossum
#   (npm install once, under a lock, in $BUILD/npm-resilience); returns 1 with a "# skip: why" line when
#   node >= 18 or npm is missing or the install fails (the caller exits 0: a skipped script).
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
FX0=$(( $(date +%s) - 3600 ))
fxms() { awk -v a="$FX0" -v s="$1" 'BEGIN { printf "%.3f", (a + s) * 1000 }'; }

vverify() {
    local f=$1 run=$2
    shift 2
    VOUT=$("$FL" verify "$f" --run "$run" --redis "$REDIS_URL" "$@" 2>&1)
    VRC=$?
    echo "$VOUT" | sed 's/^/# /'
}
verdict() { echo "$VOUT" | awk -v n="$1" '$1 == n && NF > 2 { print $NF; exit }'; }
expect_verdict() {
    local got
    got=$(verdict "$1")
    if [ "$got" = "$2" ]; then pass "${3:-$1}_$2"; else fail "${3:-$1}_$2" "got '$got'"; fi
}

fx_run() {
    local inst=${4:-i1}
    rcli zadd fl:runs "$(fxms "$2")" "$1" >/dev/null
    rcli sadd "fl:run:$1:instances" "$inst" >/dev/null
    rcli hset "fl:run:$1:meta:$inst" started_ms "$(fxms "$2")" ended_ms "$(fxms "$3")" version test >/dev/null
}
fx_window() {
    local inst=${7:-i1}
    rcli xadd "fl:run:$1:faults" '*' fault "$2" proxy "$3" type "$4" inst "$inst" event start at_ms "$(fxms "$5")" >/dev/null
    [ "$6" = - ] || rcli xadd "fl:run:$1:faults" '*' fault "$2" proxy "$3" type "$4" inst "$inst" event end \
        at_ms "$(fxms "$6")" reason duration >/dev/null
}
fx_fault() {
    rcli hset "fl:run:$1:fault:$3:$2:${6:-i1}" proxy "$3" type "$4" conns_affected "$5" requests_affected 0 >/dev/null
}
fx_ts() { rcli hset "fl:run:$1:ts:$2:${5:-i1}" "$((FX0 + $3))" "$4" >/dev/null; }
fx_ev() { local run=$1 px=$2; shift 2; rcli xadd "fl:run:$run:events:$px" '*' "$@" >/dev/null; }

resilience_setup() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        echo "# skip: node or npm not installed (apt-get install nodejs npm) -- cockatiel, opossum not run"
        return 1
    fi
    if [ "$(node -e 'console.log(typeof fetch)')" != function ]; then
        echo "# skip: node $(node --version) has no fetch (node >= 18 needed)"
        return 1
    fi
    RES_DIR="$BUILD/npm-resilience"
    case "$RES_DIR" in /*) ;; *) RES_DIR="$PWD/$RES_DIR" ;; esac
    mkdir -p "$RES_DIR"
    (   # once, under a lock: the suite runs scripts side by side
        flock -w 180 9 || exit 1
        [ -f "$RES_DIR/node_modules/cockatiel/package.json" ] && [ -f "$RES_DIR/node_modules/opossum/package.json" ] && exit 0
        timeout 120 npm install --prefix "$RES_DIR" --no-audit --no-fund --loglevel=error cockatiel@3 opossum@8 >"$TT/npm.log" 2>&1
    ) 9>"$RES_DIR/.lock"
    if [ ! -f "$RES_DIR/node_modules/cockatiel/package.json" ] || [ ! -f "$RES_DIR/node_modules/opossum/package.json" ]; then
        echo "# skip: npm install cockatiel opossum failed: $(npm_why "$TT/npm.log")"
        return 1
    fi
    echo "# cockatiel $(jq -r .version "$RES_DIR/node_modules/cockatiel/package.json"), opossum $(jq -r .version \
        "$RES_DIR/node_modules/opossum/package.json"), node $(node --version)"
}
