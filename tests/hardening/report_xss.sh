#!/usr/bin/env bash
# report.html shows names as text, never as markup (issue 20, L1): a proxy, a phase and an
# expectation named `<script>…</script>` and `"><img src=x onerror=…>` (from the scenario), and a
# fault window whose name and type are the same and an audit entry whose who, via, what, instance
# and address are (both written into the record by a hostile writer of a shared Redis, which an
# --admin run reads its windows and its audit table from). The page is opened in headless
# Chromium: no script may run (the payloads would set the page's title) and no element may be
# injected. Skipped, saying so, only where chromium cannot be installed.
. "$(dirname "$0")/../lib.sh"

CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [ -z "$CHROME" ]; then
    echo "# SKIP: no chromium (scripts/install-deps.sh installs it: apt-get install -y chromium)"
    pass skipped_no_chromium
    exit 0
fi
# (inih keeps 49 characters of a section header: short payloads)
SCRIPT='<script>document.title=7*6</script>'
IMG='"><img src=x onerror=document.title=7*6>'
dom() {   # dom HTML: the page's DOM after its scripts (if any) ran
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run \
        --user-data-dir="$(mktemp -d "$TT/chrome.XXXXXX")" --virtual-time-budget=3000 --dump-dom "file://$1" 2>/dev/null
}
# no script ran (either payload sets the title to 42), no element came from a name, and the
# names are there as text
clean() {
    local d=$1
    [ -s "$d" ] && grep -q '<title>faultline run ' "$d" && ! grep -q '<title>42' "$d" && ! grep -q '<img' "$d" &&
        ! grep -q -i '<script>document' "$d" && grep -q '&lt;script&gt;document.title=7\*6' "$d" &&
        grep -q '"&gt;&lt;img src=x onerror=' "$d"
}

# 1. in process: hostile names in the scenario itself
start_peer UP 127.0.0.1:0 echo
LP=$(free_port); LP2=$(free_port)
cat >"$TT/s.ini" <<INI
[scenario]
name = names are text
[proxy $SCRIPT]
listen = 127.0.0.1:$LP
upstream = 127.0.0.1:$UP
[proxy $IMG]
listen = 127.0.0.1:$LP2
upstream = 127.0.0.1:$UP
[phase $SCRIPT]
duration = 600ms
[phase $IMG]
duration = 600ms
[expect $IMG]
check = timeout
proxy = $SCRIPT
within = 1s
INI
chmod 600 "$TT/s.ini"
( for i in 1 2 3 4 5; do "$TBIN/flpeer" call "127.0.0.1:$LP" 200 >/dev/null; "$TBIN/flpeer" call "127.0.0.1:$LP2" 200 >/dev/null; sleep 0.1; done ) &
"$FL" run "$TT/s.ini" --out "$TT/out1" >"$TT/run1.out" 2>"$TT/run1.err"
check report_written test -s "$TT/out1/report.html"
dom "$TT/out1/report.html" >"$TT/dom1.html"
check dom_dumped test -s "$TT/dom1.html"
check scenario_names_stay_text clean "$TT/dom1.html"

# 2. --admin: the fault windows and the audit entries come from the record, where anyone who can
# write that Redis can put a window named and typed, or a change by "who" from "where", as they like
start_redis
AP=$(free_port); LP3=$(free_port)
cat >"$TT/d.ini" <<INI
[faultline]
admin = 127.0.0.1:$AP
redis = $REDIS_URL
run = xss-admin
record_interval = 200ms
[proxy web]
listen = 127.0.0.1:$LP3
upstream = 127.0.0.1:$UP
INI
start_fl "$TT/d.ini" || { fail daemon_start "$(cat "$FL_LOG")"; exit 1; }
cat >"$TT/a.ini" <<INI
[scenario]
name = windows from the record
[proxy web]
listen = 127.0.0.1:$LP3
upstream = 127.0.0.1:$UP
[fault nothing]
proxy = web
type = latency
delay = 1ms
[phase one]
duration = 1500ms
faults = nothing
[expect answered]
check = timeout
proxy = web
within = 5s
INI
chmod 600 "$TT/a.ini"
now=$(date +%s%3N)
redis-cli -s "$REDIS_SOCK" XADD fl:run:xss-admin:faults '*' fault "$SCRIPT" proxy web type "$IMG" event start \
    at_ms "$((now + 300))" >/dev/null
# and an audit entry (the verifier reads the run's audit stream for the report's "Audit" table when
# there is something to judge: hence [expect answered])
redis-cli -s "$REDIS_SOCK" XADD fl:run:xss-admin:audit '*' at_ms "$((now + 400))" who "$SCRIPT" via "$IMG" \
    what "$SCRIPT" status 201 inst "$IMG" remote "$SCRIPT" >/dev/null
# and one made of terminal escape sequences (a title change, clear screen, a C1 CSI): the run
# prints the audit list to the terminal
ESCS=$'\e]0;pwned\a\e[2J\xc2\x9b31m'
redis-cli -s "$REDIS_SOCK" XADD fl:run:xss-admin:audit '*' at_ms "$((now + 450))" who "esc$ESCS" via api \
    what "$ESCS" status 200 inst "$ESCS" remote 127.0.0.1 >/dev/null
"$FL" run "$TT/a.ini" --admin "127.0.0.1:$AP" --redis "$REDIS_URL" --run xss-admin --out "$TT/out2" \
    >"$TT/run2.out" 2>"$TT/run2.err"
check admin_report_written test -s "$TT/out2/report.html"
check admin_report_has_window grep -q 'class="fw"' "$TT/out2/report.html"
check admin_report_has_audit grep -q '<h2>Audit</h2>' "$TT/out2/report.html"
check terminal_audit_listed grep -q 'esc?\]0;pwned' "$TT/run2.out"
check terminal_no_escapes bash -c '! LC_ALL=C grep -q $'"'"'[\x1b\x07]\|\xc2\x9b'"'"' "$1"' _ "$TT/run2.out"
dom "$TT/out2/report.html" >"$TT/dom2.html"
grep -o "<title>[^<]*</title>" "$TT/dom2.html" | head -n1 | sed "s/^/# page title: /"
check record_names_stay_text clean "$TT/dom2.html"
done_tests
