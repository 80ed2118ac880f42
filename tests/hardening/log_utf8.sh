#!/usr/bin/env bash
# L6 (issue 20): log lines carry what peers send (a Postgres user name, an admin request's URI,
# an HTTP request line); every JSON line must still parse, and every logfmt line be UTF-8
# without control bytes, whatever bytes the peers sent: they are written as \u00XX.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/../control/lib_api.bash"

trap "" PIPE   # a peer writing on after the daemon closed must not end the script
start_peer HOLD 127.0.0.1:0 hold
start_peer HTTPUP 127.0.0.1:0 http
# hostile NAME PGPORT HTTPPORT: raw bytes from peers at every face of the daemon
hostile() {
    local pg=$1 hp=$2
    # a Postgres StartupMessage whose user and application_name are not UTF-8
    python3 -c 'import struct,sys
b = b"\x00\x03\x00\x00user\x00\xff\xfe\x01\x1b[31m\x00database\x00d\xc3\x28\x00application_name\x00\xed\xa0\x80\x07\x00\x00"
sys.stdout.buffer.write(struct.pack(">I", len(b) + 4) + b)' >"$TT/startup"
    exec 7<>"/dev/tcp/127.0.0.1/$pg"; cat "$TT/startup" >&7; sleep 0.2; exec 7>&-
    # an admin request whose URI holds raw bytes (logged as event=api)
    exec 7<>"/dev/tcp/127.0.0.1/$ADMIN_PORT"
    printf 'POST /faults/\xff\xfe\x01\x7f\xc0\xafx HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n' >&7
    timeout 3 cat <&7 >/dev/null; exec 7>&-
    # an HTTP request line with raw bytes and a request id of raw bytes
    exec 7<>"/dev/tcp/127.0.0.1/$hp"
    printf 'GET /\xff\x01\xfe HTTP/1.1\r\nHost: x\r\nX-Request-Id: \xf0\x28\x8c\x28\r\n\r\nBAD \xff\r\n\r\n' >&7
    timeout 3 cat <&7 >/dev/null; exec 7>&-
}
for fmt in json logfmt; do
    PG=$(free_port); HP=$(free_port)
    ADMIN_PORT=$(free_port); A="http://127.0.0.1:$ADMIN_PORT"
    api_profile "$TT/$fmt.ini" "log = debug" "log_format = $fmt" \
        "[proxy pg]" "listen = 127.0.0.1:$PG" "upstream = 127.0.0.1:$HOLD" "mode = postgres" \
        "[proxy web]" "listen = 127.0.0.1:$HP" "upstream = 127.0.0.1:$HTTPUP" "mode = http"
    start_api "$TT/$fmt.ini" || { fail "start_$fmt" "faultline did not start: $(cat "$FL_LOG")"; continue; }
    hostile "$PG" "$HP"
    stop_pid "$FL_PID"
    LOG=$FL_LOG
    check "${fmt}_log_has_pg_session" grep -q 'pg_session' "$LOG"
    check "${fmt}_log_has_api_line" grep -Eq '"event":"api"|event=api ' "$LOG"
    check "${fmt}_log_is_utf8" iconv -f UTF-8 -t UTF-8 "$LOG" -o /dev/null
    check "${fmt}_log_has_no_control_bytes" bash -c "! LC_ALL=C grep -q '[[:cntrl:]]' <(tr -d '\n' <'$LOG')"
    if [ "$fmt" = json ]; then
        # strict: jq would read invalid UTF-8 as U+FFFD and pass the line
        check json_every_line_parses python3 -c 'import json, sys
bad = 0
for raw in open(sys.argv[1], "rb"):
    try:
        json.loads(raw.decode("utf-8", "strict"))
    except Exception as e:
        bad += 1
        print("# not JSON:", repr(raw[:200]), e)
sys.exit(1 if bad else 0)' "$LOG"
        check json_user_escaped grep -q '"user":"\\u00ff\\u00fe\\u0001\\u001b\[31m"' "$LOG"
    else
        check logfmt_user_escaped grep -q 'user="\\u00ff\\u00fe\\u0001\\u001b\[31m"' "$LOG"
    fi
done
done_tests
