# tests/protocols/http_lib.bash -- shared by tests/protocols/http_*.sh (not a test itself: no .sh suffix).
# start_httpup VAR: runs the HTTP test upstream (tests/peers/httpup.c), sets VAR to its port.
start_httpup() {
    local var=$1 out="$TT/httpup.$RANDOM$RANDOM" i
    "$TBIN/httpup" 127.0.0.1:0 >"$out" 2>&1 &
    _PIDS+=($!)
    for i in $(seq 1 200); do
        if grep -q '^listening ' "$out" 2>/dev/null; then
            printf -v "$var" '%s' "$(sed -n 's/^listening //p' "$out" | head -n1)"
            return 0
        fi
        sleep 0.02
    done
    echo "httpup did not start: $(cat "$out")" >&2
    return 1
}
# http_proxy_ini FILE LISTEN_PORT UPSTREAM_PORT [ADD_VIA]: writes a profile header with one http proxy "web"
http_proxy_ini() {
    cat >"$1" <<INI
[faultline]
admin = off
[proxy web]
listen = 127.0.0.1:$2
upstream = 127.0.0.1:$3
mode = http
add_via = ${4:-no}
INI
}
# ms_of CMD...: wall milliseconds the command took (its output discarded)
ms_of() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
