# tests/fleet/lib_fleet.bash -- sourced by tests/fleet/*.sh (after ../lib.sh): one real Redis on
# TCP (so it can be stopped, killed and started again on the same port), a fleet key, and N
# faultline daemons in one fleet, each with an admin API, a tcp proxy `db` in front of an echo
# upstream, and labels.
#
#   fleet_redis_start            start (or restart) redis-server on $RPORT; sets RPID
#   fleet_start N [LABELS_FN]    start N daemons (inst1..instN); LABELS_FN i prints extra [fleet] lines
#   fleet_ctl ARGS...            faultline ctl --fleet with this fleet's redis and key (fleet_ctl_bg: in the background)
#   jqt FILTER [FILE]            jq -e FILTER, quietly
#   admin I                      http://127.0.0.1:<admin port of instance I>
#   faults_of I                  the fault names on instance I's proxy db, sorted, space separated
#   echo_ms I                    one echo exchange through instance I's proxy: its ms (empty on failure)
#   n_up                         instances the registry lists as up
RPORT=$(free_port)
RURL="redis://127.0.0.1:$RPORT"
KEY="$TT/fleet.key"
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY"
chmod 600 "$KEY"
declare -a FPID APORT PPORT

fleet_redis_start() {
    redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$TT" --daemonize no \
        --loglevel warning >>"$TT/redis.log" 2>&1 &
    RPID=$!
    _PIDS+=($RPID)
    wait_for 10 redis-cli -p "$RPORT" ping >/dev/null 2>&1
}

default_labels() { local z=a; [ $(($1 % 2)) -eq 0 ] && z=b; printf 'service = checkout\nzone = %s\nversion = 1.%d\n' "$z" "$1"; }

fleet_start() {
    local n=$1 lf=${2:-default_labels} i
    [ -n "${ECHO:-}" ] || start_peer ECHO 127.0.0.1:0 echo
    for i in $(seq 1 "$n"); do
        APORT[$i]=$(free_port)
        PPORT[$i]=$(free_port)
        {
            printf '[faultline]\nadmin = 127.0.0.1:%s\n' "${APORT[$i]}"
            printf '[fleet]\nredis = %s\nkey_file = %s\nid = inst%d\n' "$RURL" "$KEY" "$i"
            "$lf" "$i"
            px db "${PPORT[$i]}" "127.0.0.1:$ECHO"
        } >"$TT/p$i.ini"
        start_fl "$TT/p$i.ini" "$TT/fl$i.log" || return 1
        FPID[$i]=$FL_PID
        wait_port "${APORT[$i]}" 10 || return 1
    done
    wait_for 10 eval '[ "$(n_up)" -ge '"$n"' ]'
}

fleet_ctl() { "$FL" ctl --fleet "$@" --redis "$RURL" --key-file "$KEY"; }
# fleet_ctl_bg OUT ARGS...: the same in the background, the ctl process itself in $BGPID (signals reach it)
fleet_ctl_bg() { local out=$1; shift; "$FL" ctl --fleet "$@" --redis "$RURL" --key-file "$KEY" >"$out" 2>&1 & BGPID=$!; _PIDS+=($BGPID); }
# jqt FILTER [FILE]: jq -e, quietly (a condition)
jqt() { jq -e "$@" >/dev/null 2>&1; }
admin() { echo "http://127.0.0.1:${APORT[$1]}"; }
faults_of() { curl -s -m 5 "$(admin "$1")/faults" | jq -r '[.[] | select(.state != "killed") | .name] | sort | join(" ")'; }
states_of() { curl -s -m 5 "$(admin "$1")/faults" | jq -r '[.[] | .state] | sort | join(" ")'; }
echo_ms() { local o; o=$("$TBIN/flpeer" echo "127.0.0.1:${PPORT[$1]}" 100 2>/dev/null); [ "$(kv "$o" match)" = yes ] && kv "$o" ms; }
n_up() { fleet_ctl --json list 2>/dev/null | jq '[.instances[] | select(.state == "up")] | length' 2>/dev/null || echo 0; }
