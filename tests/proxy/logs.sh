#!/usr/bin/env bash
# Structured logs: at debug, one close line per connection with id, proxy, peer, bytes each way,
# duration and who closed; the same events as JSON lines with log_format = json.
. "$(dirname "$0")/../lib.sh"

start_peer ECHO 127.0.0.1:0 echo
start_peer SRC 127.0.0.1:0 source 5000
DOWN=$(free_port)
for fmt in logfmt json; do
    LE=$(free_port); LS=$(free_port); LD=$(free_port)
    cat >"$TT/$fmt.ini" <<INI
[faultline]
admin = off
log = debug
log_format = $fmt
[proxy echo]
listen = 127.0.0.1:$LE
upstream = 127.0.0.1:$ECHO
[proxy "src x"]
listen = 127.0.0.1:$LS
upstream = 127.0.0.1:$SRC
[proxy down]
listen = 127.0.0.1:$LD
upstream = 127.0.0.1:$DOWN
INI
    # (a quoted name exercises quoting in both formats)
    "$FL" serve "$TT/$fmt.ini" 2>"$TT/$fmt.log" &
    FL_PID=$!; _PIDS+=($FL_PID)
    wait_for 5 grep -q 'started' "$TT/$fmt.log" || { fail "start_$fmt" "$(cat "$TT/$fmt.log")"; continue; }
    "$TBIN/flpeer" echo "127.0.0.1:$LE" 1234 >/dev/null
    "$TBIN/flpeer" read "127.0.0.1:$LS" >/dev/null
    "$TBIN/flpeer" call "127.0.0.1:$LD" 1000 >/dev/null
    wait_for 3 test "$(grep -c close "$TT/$fmt.log")" -ge 3
    stop_pid "$FL_PID"
done

# logfmt
L=$TT/logfmt.log
line=$(grep 'event=close .*proxy=echo' "$L" | head -n1)
echo "# $line"
check logfmt_close_fields grep -qE '^ts=[0-9T:.-]+Z level=debug event=close id=[0-9]+ proxy=echo peer=127\.0\.0\.1:[0-9]+ upstream=127\.0\.0\.1:[0-9]+ bytes_up=1234 bytes_down=1234 duration_ms=[0-9.]+ closed_by=client' <<<"$line"
check logfmt_close_by_upstream grep -qE 'event=close .*proxy="\\"src x\\"" .*bytes_up=0 bytes_down=5000 .*closed_by=upstream' "$L"
check logfmt_close_by_proxy grep -qE 'event=close .*proxy=down .*bytes_up=0 bytes_down=0 .*closed_by=proxy' "$L"
check logfmt_start_stop grep -q 'event=started .*event=stopped' <<<"$(tr '\n' ' ' <"$L")"
check logfmt_ids_distinct [ "$(grep -o 'event=close id=[0-9]*' "$L" | sort -u | wc -l)" = "$(grep -c 'event=close' "$L")" ]

# json: every line is one JSON object with ts, level, event
jqq() { jq "$@" >/dev/null; }
J=$TT/json.log
check json_every_line_parses jqq -e -s 'length > 4 and all(.[]; .ts and .level and .event)' "$J"
c=$(jq -c 'select(.event == "close" and .proxy == "echo")' "$J" | head -n1)
echo "# $c"
check json_close_found [ -n "$c" ]
check json_close_fields jqq -e '(.id | type) == "number" and .bytes_up == 1234 and .bytes_down == 1234 and (.duration_ms | type) == "number" and .closed_by == "client" and (.peer | test("^127\\.0\\.0\\.1:[0-9]+$"))' <<<"$c"
check json_quoted_value jqq -e -s 'any(.[]; .event == "close" and .proxy == "\"src x\"" and .closed_by == "upstream")' "$J"
check json_upstream_failed jqq -e -s 'any(.[]; .event == "upstream_failed" and .proxy == "down" and .error == "Connection refused")' "$J"
check json_started jqq -e -s 'any(.[]; .event == "started" and (.pid | type) == "number")' "$J"
done_tests
