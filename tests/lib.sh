# tests/lib.sh -- sourced by every integration test script.
#
# A test script is plain bash: it starts real processes (faultline, flpeer upstreams, redis,
# postgres, curl...), asserts, and reports each case with `pass NAME` / `fail NAME REASON`,
# which print TAP-like "ok NAME" / "not ok NAME # REASON" lines that tests/run.sh counts.
# Everything started through these helpers is killed when the script exits; every wait has a
# deadline. Only loopback addresses and unix sockets are used.
#
# Environment (set by tests/run.sh): FL (the faultline binary), TBIN (test peers), BUILD.
set -u
: "${BUILD:=build}"
: "${FL:=$BUILD/faultline}"
: "${TBIN:=$BUILD/t}"
TT=$(mktemp -d /tmp/fltest.XXXXXX)
chmod 755 "$TT"
_PIDS=()
_FAILS=0

# _ours PID: PID is still a child of this script. A process started long ago may have exited and
# its PID been reused by a process of another test (tests/run.sh runs several at once, pid_max is
# 32768): killing that stranger took down a whole other test with SIGTERM.
_ours() { local st; st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1; st=${st##*) }; set -- $st; [ "$2" = "$$" ] || [ "$2" = "$BASHPID" ]; }

cleanup() {
    local p
    for p in "${_PIDS[@]}"; do _ours "$p" && kill -TERM "$p" 2>/dev/null; done
    sleep 0.1
    if [ -n "${VALGRIND:-}" ]; then   # let valgrind finish its leak check (bounded)
        for p in "${_PIDS[@]}"; do wait_for 20 eval "! _ours $p"; done
    fi
    for p in "${_PIDS[@]}"; do _ours "$p" && kill -KILL "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "${PGDATA_DIR:-}" ] && runuser -u postgres -- /usr/lib/postgresql/*/bin/pg_ctl -D "$PGDATA_DIR" -m immediate stop >/dev/null 2>&1
    # a failed case leaves the last lines of the script's own logs (faultline's, the peers') in
    # the suite's log: a failure seen once in CI can be read afterwards
    if [ "$_FAILS" -gt 0 ]; then
        local f
        find "$TT" -maxdepth 2 -type f -name '*.log' -size -64M 2>/dev/null | head -n 8 | while read -r f; do
            echo "# --- ${f#"$TT"/} (last 12 lines)"
            tail -n 12 "$f" | cut -c1-300 | sed 's/^/#   /'
        done
    fi
    rm -rf "$TT"
    # this script's port reservations (free_port)
    grep -lx "$$" "$_PORTDIR"/*/pid 2>/dev/null | while read -r f; do rm -rf "${f%/pid}"; done
}
trap cleanup EXIT

pass() { echo "ok $1"; }
fail() { echo "not ok $1 # ${2:-}"; _FAILS=$((_FAILS + 1)); }
# check NAME CONDITION-COMMAND... : pass if the command succeeds
check() { local n=$1; shift; if "$@"; then pass "$n"; else fail "$n" "failed: $*"; fi; }
# within VALUE LO HI : numeric range test (floats ok)
within() { awk -v v="$1" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'; }
# kv LINE KEY : value of key=value in a line of facts
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
# px NAME PORT UPSTREAM [KEY=VALUE...] : a profile's [proxy NAME] section listening on
# 127.0.0.1:PORT (for profiles written by a test: { echo '[faultline]'; px a $P 127.0.0.1:$E; } >f)
px() {
    local kv
    printf '[proxy %s]\nlisten = 127.0.0.1:%s\nupstream = %s\n' "$1" "$2" "$3"
    shift 3
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"; done
}

# A free port on 127.0.0.1 (no TCP or UDP socket on it now). Chosen below Linux's ephemeral range
# (32768-60999), so that no client connection of this or another test can be holding it as its
# local port when we bind it. Reserved for this script until it exits (a directory per port in
# $_PORTDIR holding the script's PID): tests/run.sh runs scripts side by side, and a port picked
# here but bound only later (a proxy added by a reload, a second server) was once picked and
# bound by another script in between. A reservation whose script is gone is taken over.
_PORTDIR=/tmp/fltest-ports
free_port() {
    local p used owner
    mkdir -p "$_PORTDIR" 2>/dev/null
    for _ in $(seq 1 200); do
        p=$((10000 + RANDOM % 22000))
        # fixed ports of the third-party suites control/toxiproxy_suite.sh runs unchanged
        # (toxiproxy-ruby listens on 22222/22223 and asserts nothing answers on 12345)
        case $p in 12345 | 22222 | 22223) continue ;; esac
        used=$(printf ':%04X ' "$p")
        grep -qi "$used" /proc/net/tcp /proc/net/tcp6 /proc/net/udp /proc/net/udp6 2>/dev/null && continue
        if ! mkdir "$_PORTDIR/$p" 2>/dev/null; then
            owner=$(cat "$_PORTDIR/$p/pid" 2>/dev/null)
            [ -z "$owner" ] && continue     # just made by another script, its PID not yet written
            [ "$owner" = $$ ] && continue   # this script's own earlier pick
            kill -0 "$owner" 2>/dev/null && continue
        fi
        echo $$ >"$_PORTDIR/$p/pid"
        echo "$p"
        return
    done
    echo 0
}

# wait_port PORT [SECONDS]: until something accepts on 127.0.0.1:PORT
wait_port() {
    local port=$1 secs=${2:-10} i
    for i in $(seq 1 $((secs * 20))); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# wait_for SECONDS COMMAND...: until the command succeeds
wait_for() {
    local secs=$1 i; shift
    for i in $(seq 1 $((secs * 20))); do "$@" && return 0; sleep 0.05; done
    return 1
}

# start_peer VAR ADDR MODE [ARGS]: runs `flpeer serve`, sets VAR to its port (or path)
start_peer() {
    local var=$1; shift
    local out="$TT/peer.$RANDOM$RANDOM"
    "$TBIN/flpeer" serve "$@" >"$out" 2>&1 &
    _PIDS+=($!)
    LAST_PID=$!
    local i
    for i in $(seq 1 200); do
        if grep -q '^listening ' "$out" 2>/dev/null; then
            printf -v "$var" '%s' "$(sed -n 's/^listening //p' "$out" | head -n1)"
            return 0
        fi
        sleep 0.02
    done
    echo "flpeer did not start: $(cat "$out")" >&2
    return 1
}

# start_fl PROFILE [LOG]: runs faultline serve; waits until every tcp listen port accepts.
# With VALGRIND=1 (make valgrind: $FL is then a wrapper running `serve` under memcheck) the
# wait is 60 s.
start_fl() {
    local prof=$1 log=${2:-$TT/fl.$RANDOM.log} secs=10
    [ -n "${VALGRIND:-}" ] && secs=60
    "$FL" serve "$prof" 2>"$log" &
    FL_PID=$!
    FL_LOG=$log
    _PIDS+=($FL_PID)
    local p
    for p in $(sed -n 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*127\.0\.0\.1:\([0-9]*\).*/\1/p' "$prof"); do
        wait_port "$p" $secs || { echo "faultline did not listen on $p: $(cat "$log")" >&2; return 1; }
    done
    # the listeners answer as soon as they are bound; the rest of the start-up (the recorder,
    # the admin API) comes after them and ends with the "started" line, at level info: wait for
    # it where the profile logs it (counters.sh once grepped for the recorder's line too early)
    if ! grep -Eq '^[[:space:]]*log[[:space:]]*=[[:space:]]*(warn|error)' "$prof"; then
        wait_for $secs grep -Eq 'event=started|"event":"started"' "$log" || true
    fi
    return 0
}

# stop_pid PID: TERM and wait (bounded)
stop_pid() {
    kill -TERM "$1" 2>/dev/null
    local i
    for i in $(seq 1 200); do kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null; return 0; }; sleep 0.05; done
    kill -KILL "$1" 2>/dev/null
    return 1
}

# cpu_ticks PID: utime+stime in clock ticks
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

# start_redis: private redis-server on a unix socket; sets REDIS_SOCK, REDIS_URL, REDIS_PID
start_redis() {
    REDIS_SOCK="$TT/redis.sock"
    redis-server --port 0 --unixsocket "$REDIS_SOCK" --unixsocketperm 777 --save '' --appendonly no \
        --dir "$TT" --daemonize no --loglevel warning >"$TT/redis.log" 2>&1 &
    REDIS_PID=$!
    _PIDS+=($REDIS_PID)
    REDIS_URL="unix:$REDIS_SOCK"
    wait_for 10 redis-cli -s "$REDIS_SOCK" ping >/dev/null 2>&1
}

# start_postgres: throwaway cluster on a unix socket dir; sets PGHOST PGPORT PGDATA_DIR, user postgres
start_postgres() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    PGDATA_DIR="$TT/pgdata"
    mkdir -p "$PGDATA_DIR" "$TT/pgsock"
    touch "$TT/pg.log"
    chown postgres "$PGDATA_DIR" "$TT/pgsock" "$TT/pg.log"
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA_DIR" -A trust -U postgres >"$TT/initdb.log" 2>&1 || return 1
    PGPORT=$(free_port)
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$TT/pg.log" -w -t 30 \
        -o "-p $PGPORT -k $TT/pgsock -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null || return 1
    export PGHOST="$TT/pgsock" PGPORT PGUSER=postgres
}

# done_tests: exit status for the script
# npm_why LOG: the line of a failed npm run that says why (its error code and summary, not the
# "a complete log of this run can be found" trailer)
npm_why() {
    grep -E 'npm ERR! (code|errno|syscall|request|network|reason)|ERR! .*(certificate|CERT|ENOTFOUND|ECONNREFUSED|ETIMEDOUT|EAI_AGAIN|404)' "$1" 2>/dev/null |
        head -n 3 | tr '\n' ' ' | cut -c1-200
    grep -qE 'npm ERR!' "$1" 2>/dev/null || tail -n 2 "$1" 2>/dev/null | tr '\n' ' '
}

done_tests() { [ "$_FAILS" -eq 0 ]; }
