# tests/record/common.bash -- helpers for the recorder tests (sourced after ../lib.sh).
# Reads the record with redis-cli on the private redis started by start_redis.
rcli() { redis-cli -s "$REDIS_SOCK" "$@"; }
hget() { rcli --raw hget "$1" "$2"; }
# ts_sum KEY FIELD: sum of FIELD over every second of a series hash
ts_sum() { rcli --raw hvals "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | awk '{s += $1} END {print s + 0}'; }
# events KEY: one line per stream entry, "field=value field=value ..."
events() {
    rcli --raw xrange "$1" - + | awk '
        /^[0-9]+-[0-9]+$/ { if (line != "") print line; line = ""; k = ""; next }
        { if (k == "") { k = $0 } else { line = line (line == "" ? "" : " ") k "=" $0; k = "" } }
        END { if (line != "") print line }'
}
# ge A B: A >= B (numbers, empty = 0)
ge() { [ "${1:-0}" -ge "${2:-0}" ] 2>/dev/null; }
