# tests/protocols/dns_lib.bash -- what the mode = dns tests share (sourced after tests/lib.sh).
#
# DIG: dig (Debian bind9-dnsutils) pointed at port $1, short timeouts; DPY: a python3 that has
# dnspython (Debian python3-dnspython, for /usr/bin/python3); dnsq PORT ARGS: the dnspython
# client (tests/protocols/dns_client.py); nodeq PORT NAME [TIMEOUT_MS]: Node's own dns.Resolver
# (c-ares) with setServers(['127.0.0.1:PORT']), one try: "ok ADDRS" or the error code
# (ENOTFOUND, ETIMEOUT, ESERVFAIL, EREFUSED).
dig_at() { local p=$1; shift; timeout 20 dig @127.0.0.1 -p "$p" +time=2 +tries=1 "$@"; }
DPY=""
for py in python3 /usr/bin/python3; do "$py" -c 'import dns.resolver' 2>/dev/null && { DPY=$py; break; }; done
dnsq() { [ -n "$DPY" ] || { echo "no-dnspython"; return; }; timeout 30 "$DPY" tests/protocols/dns_client.py "$@"; }
nodeq() {
    command -v node >/dev/null 2>&1 || { echo "no-node"; return; }
    timeout 30 node -e '
const { Resolver } = require("dns");
const r = new Resolver({ timeout: +(process.argv[3] || 2000), tries: 1 });
r.setServers(["127.0.0.1:" + process.argv[1]]);
r.resolve4(process.argv[2], (err, a) => console.log(err ? err.code : "ok " + a.sort().join(",")));
' "$@"
}
# need_tools: dig is required (scripts/install-deps.sh installs it); without dnspython or node
# their cases are skipped with a message.
need_dig() { command -v dig >/dev/null 2>&1 || { fail dig_missing "dig not installed (apt-get install bind9-dnsutils)"; done_tests; exit; }; }
