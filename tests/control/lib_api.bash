# tests/control/lib_api.bash -- sourced by tests/control/*.sh (after ../lib.sh): start faultline with
# its admin API on a free port and talk to it with curl.
#
#   api_profile FILE [EXTRA [faultline] LINES]   write a profile with only [faultline]
#   start_api FILE                               start faultline, wait for the admin port
#   req METHOD PATH [BODY]                       sets CODE (HTTP status) and RESP (body)
#   jget FILTER                                  jq -r FILTER on RESP
ADMIN_PORT=$(free_port)
A="http://127.0.0.1:$ADMIN_PORT"
CURL_AUTH=()

api_profile() {
    local f=$1; shift
    { echo "[faultline]"; echo "admin = 127.0.0.1:$ADMIN_PORT"; for l in "$@"; do echo "$l"; done; } >"$f"
}

start_api() {
    start_fl "$1" || return 1
    wait_port "$ADMIN_PORT" 10 || { echo "admin API did not listen: $(cat "$FL_LOG")" >&2; return 1; }
}

req() {
    local m=$1 p=$2
    if [ $# -ge 3 ]; then
        CODE=$(curl -s -m 10 -o "$TT/resp" -w '%{http_code}' -X "$m" "${CURL_AUTH[@]}" --data-binary "$3" "$A$p")
    else
        CODE=$(curl -s -m 10 -o "$TT/resp" -w '%{http_code}' -X "$m" "${CURL_AUTH[@]}" "$A$p")
    fi
    RESP=$(cat "$TT/resp")
}

jget() { jq -r "$1" <<<"$RESP" 2>/dev/null; }

# expect NAME CODE [JQ-CONDITION]: the last req answered CODE (and the body satisfies the jq test)
expect() {
    local n=$1 code=$2 cond=${3:-}
    if [ "$CODE" != "$code" ]; then fail "$n" "HTTP $CODE, expected $code: $RESP"; return; fi
    if [ -n "$cond" ] && [ "$(jq -r "$cond" <<<"$RESP" 2>/dev/null)" != true ]; then
        fail "$n" "body fails '$cond': $RESP"; return
    fi
    pass "$n"
}

# now_ms: monotonic-enough wall clock in ms
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# exchange FD WORD: send a line on an echo connection and read it back; sets EX_MS
exchange() {
    local fd=$1 w=$2 line t0
    t0=$(now_ms)
    printf '%s\n' "$w" >&"$fd" 2>/dev/null || return 1
    IFS= read -r -t 5 line <&"$fd" || return 1
    EX_MS=$(( $(now_ms) - t0 ))
    [ "$line" = "$w" ]
}

# jqf FILTER FILE: the jq test holds for the file (quiet)
jqf() { jq -e "$1" "$2" >/dev/null 2>&1; }
