# bench/lib.sh -- what the bench scripts share, sourced after `cd` to the repository root:
# the tools they install, a work directory that goes away with every process they started, free
# ports, waiting for a listener, and the medians and ratios of their tables.
#
#   bench_need CMD:PACKAGE ...   installs (apt-get, as root) the packages of the missing commands,
#                                with the packages' own services kept from starting
#   bench_workdir NAME           W = a new /tmp/NAME.XXXXXX, PIDS = (); on exit every pid in PIDS
#                                (and in the words of $BENCH_MORE_PIDS, for processes a script
#                                restarts) gets TERM, then KILL, and W is removed
#   free_port                    a TCP port nothing listens on and this script has not handed
#                                out yet (10000-31999, below the ephemeral range)
#   wait_port PORT [TRIES]       until 127.0.0.1:PORT accepts (TRIES x 50 ms, 100 by default)
#   rss_kb PID                   the process's resident set, KiB
#   median                       the median of the numbers on stdin, or "-" when there are none
#   raw_med A B [FIELD]          the median of FIELD (3) of the lines of $W/raw whose first two
#                                fields are A and B (a round's "METRIC TARGET VALUE ..." lines)
#   ratio A B, fmt V DECIMALS    A/B to 2 places and V to DECIMALS places, "-" for a missing value
#
# Everything listens on 127.0.0.1 only. Not run by `make test`: the bench scripts are run by hand.

bench_need() {
    local need="" w
    for w in "$@"; do command -v "${w%%:*}" >/dev/null || need="$need ${w#*:}"; done
    [ -n "$need" ] || return 0
    echo "bench: installing$need"
    local made_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; made_policy=1
    fi
    # shellcheck disable=SC2086  # one word per package
    DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
    local rc=$?
    [ $made_policy = 1 ] && rm -f /usr/sbin/policy-rc.d
    return $rc
}

bench_cleanup() {
    local p
    # shellcheck disable=SC2086  # BENCH_MORE_PIDS is a list of words
    for p in "${PIDS[@]}" ${BENCH_MORE_PIDS:-}; do kill -TERM "$p" 2>/dev/null || true; done
    sleep 0.3
    # shellcheck disable=SC2086
    for p in "${PIDS[@]}" ${BENCH_MORE_PIDS:-}; do kill -KILL "$p" 2>/dev/null || true; done
    [ -n "${W:-}" ] && rm -rf "$W"
}

bench_workdir() {
    W=$(mktemp -d "/tmp/$1.XXXXXX")
    PIDS=()
    BENCH_MORE_PIDS=${BENCH_MORE_PIDS:-}
    trap bench_cleanup EXIT
}

free_port() {
    local p
    for _ in $(seq 1 500); do
        p=$((10000 + RANDOM % 22000))
        grep -qi "$(printf ':%04X ' "$p")" /proc/net/tcp /proc/net/tcp6 2>/dev/null && continue
        grep -qx "$p" "$W/.ports" 2>/dev/null && continue
        echo "$p" >>"$W/.ports"
        echo "$p"
        return 0
    done
    echo "bench: no free port" >&2
    return 1
}

wait_port() {
    for _ in $(seq 1 "${2:-100}"); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

median() {
    sort -g | awk '{a[NR] = $1} END { if (NR == 0) print "-"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

raw_med() { awk -v m="$1" -v t="$2" -v k="${3:-3}" '$1 == m && $2 == t {print $k}' "$W/raw" | median; }

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a == "-") print "-"; else printf "%.2f", a / b }'; }
fmt() { awk -v v="$1" -v d="$2" 'BEGIN { if (v == "-") print "-"; else printf "%." d "f", v }'; }
