# tests/protocols/tls_lib.bash -- shared by tests/protocols/tls_*.sh (not a test itself: no .sh suffix).
# Certificates are made here with the openssl command (EC P-256); faultline's CA with `faultline ca init`.

# mk_cert DIR [SAN]: a self-signed certificate DIR/cert.pem with key DIR/key.pem for localhost and
# 127.0.0.1 (or SAN, openssl's subjectAltName syntax), valid 30 days
mk_cert() {
    mkdir -p "$1"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/key.pem" -out "$1/cert.pem" \
        -days 30 -subj /CN=localhost -addext "subjectAltName=${2:-DNS:localhost,IP:127.0.0.1}" >/dev/null 2>&1
}
# mk_expired DIR: DIR/cert.pem valid January 2020 only, key DIR/key.pem
mk_expired() {
    mkdir -p "$1/db/new"
    : >"$1/db/index.txt"
    echo 01 >"$1/db/serial"
    printf '[ca]\ndefault_ca=d\n[d]\ndir=%s\ndatabase=$dir/index.txt\nnew_certs_dir=$dir/new\nserial=$dir/serial\ndefault_md=sha256\npolicy=p\n[p]\ncommonName=supplied\n' \
        "$1/db" >"$1/db/ca.cnf"
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/key.pem" -out "$1/req.csr" -subj /CN=old >/dev/null 2>&1
    openssl ca -batch -config "$1/db/ca.cnf" -selfsign -keyfile "$1/key.pem" -in "$1/req.csr" -out "$1/cert.pem" \
        -startdate 20200101000000Z -enddate 20200201000000Z >/dev/null 2>&1
}
# start_tlsup VAR CERT KEY: the HTTPS upstream (tests/peers/tlsup.py, Python's ssl), sets VAR to its port
start_tlsup() {
    local var=$1 out="$TT/tlsup.$RANDOM$RANDOM" i
    python3 tests/peers/tlsup.py "$2" "$3" >"$out" 2>&1 &
    _PIDS+=($!)
    for i in $(seq 1 200); do
        if grep -q '^listening ' "$out" 2>/dev/null; then
            printf -v "$var" '%s' "$(sed -n 's/^listening //p' "$out" | head -n1)"
            return 0
        fi
        sleep 0.05
    done
    echo "tlsup did not start: $(cat "$out")" >&2
    return 1
}
# tls_failures LOG SIDE: tls_handshake_failed lines of one side (client|upstream) in a faultline log
tls_failures() { grep -c "event=tls_handshake_failed .*side=$2" "$1"; }
# start_postgres_tls CERT KEY: start_postgres (tests/lib.sh) with ssl = on and this certificate
start_postgres_tls() {
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    PGDATA_DIR="$TT/pgdata"
    mkdir -p "$PGDATA_DIR" "$TT/pgsock"
    touch "$TT/pg.log"
    chown postgres "$PGDATA_DIR" "$TT/pgsock" "$TT/pg.log"
    runuser -u postgres -- "$bin/initdb" -D "$PGDATA_DIR" -A trust -U postgres >"$TT/initdb.log" 2>&1 || return 1
    cp "$1" "$PGDATA_DIR/server.crt"
    cp "$2" "$PGDATA_DIR/server.key"
    chown postgres "$PGDATA_DIR/server.crt" "$PGDATA_DIR/server.key"
    chmod 600 "$PGDATA_DIR/server.key"
    PGPORT=$(free_port)
    runuser -u postgres -- "$bin/pg_ctl" -D "$PGDATA_DIR" -l "$TT/pg.log" -w -t 30 \
        -o "-p $PGPORT -k $TT/pgsock -c listen_addresses=127.0.0.1 -c fsync=off -c ssl=on" start >/dev/null || return 1
    export PGHOST="$TT/pgsock" PGPORT PGUSER=postgres
}
# events_kv KEY OUT: the stream KEY (a run's R:events:<proxy>) from the private redis as one line
# per event, "field=value ..." (spaces in values as _): read a field with kv (tests/lib.sh)
events_kv() {
    redis-cli -s "$REDIS_SOCK" --raw xrange "$1" - + | python3 -c '
import sys
out, cur = [], None
for l in sys.stdin.read().split("\n"):
    if "-" in l and l.replace("-", "").isdigit():
        if cur: out.append(cur)
        cur = []
    elif cur is not None:
        cur.append(l)
if cur: out.append(cur)
for e in out:
    print(" ".join("%s=%s" % (e[i], e[i + 1].replace(" ", "_")) for i in range(0, len(e) - 1, 2)))' >"$2"
}
