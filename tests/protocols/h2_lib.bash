# tests/protocols/h2_lib.bash -- shared by the http2 and grpc tests (tests/protocols/h2_*.sh,
# grpc_*.sh, tests/verify/deadline*.sh, grpc_checks.sh); not a test itself (no .sh suffix).
#
# Peers: tests/peers/h2up.js (an HTTP/2 upstream, node's http2), tests/peers/grpc_peer.js (a gRPC
# server and client on @grpc/grpc-js, installed by npm into $BUILD/npm-grpc once and reused:
# reruns need no network), tests/peers/grpc_py.py (the same with Debian's python3-grpcio),
# tests/peers/h2raw.py (raw HTTP/2 frames: PINGs and hostile input).
H2DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# h2_need_node: skips the script (exit 0, a message) without node
h2_need_node() {
    command -v node >/dev/null 2>&1 && return 0
    echo "# skip: node not installed (apt-get install nodejs)"
    exit 0
}

# grpc_js_setup: GRPC_JS = a directory with node_modules/@grpc/grpc-js (npm install once, under a
# lock: the suite runs scripts side by side); skips the script when it cannot be had
grpc_js_setup() {
    h2_need_node
    GRPC_JS="$BUILD/npm-grpc"
    case "$GRPC_JS" in /*) ;; *) GRPC_JS="$H2DIR/$GRPC_JS" ;; esac
    export GRPC_JS
    mkdir -p "$GRPC_JS"
    (
        flock -w 180 9 || exit 1
        [ -f "$GRPC_JS/node_modules/@grpc/grpc-js/package.json" ] && exit 0
        command -v npm >/dev/null 2>&1 || exit 1
        timeout 150 npm install --prefix "$GRPC_JS" --no-audit --no-fund --loglevel=error @grpc/grpc-js@1 >"$TT/npm.log" 2>&1
    ) 9>"$GRPC_JS/.lock"
    if [ ! -f "$GRPC_JS/node_modules/@grpc/grpc-js/package.json" ]; then
        echo "# skip: npm install @grpc/grpc-js failed: $(npm_why "$TT/npm.log")"
        exit 0
    fi
    echo "# @grpc/grpc-js $(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' "$GRPC_JS/node_modules/@grpc/grpc-js/package.json" | head -n1), node $(node --version)"
}

# py_grpc: 0 when Debian's python3-grpcio is there (it lives in /usr/bin/python3's path)
py_grpc() { /usr/bin/python3 -c 'import grpc' 2>/dev/null; }

# _start_listening VAR LOG CMD...: runs CMD in the background, VAR = the port of its "listening N" line
_start_listening() {
    local var=$1 out=$2 i
    shift 2
    "$@" >"$out" 2>&1 &
    _PIDS+=($!)
    LAST_PID=$!
    for i in $(seq 1 300); do
        if grep -q '^listening ' "$out" 2>/dev/null; then
            printf -v "$var" '%s' "$(sed -n 's/^listening //p' "$out" | head -n1)"
            return 0
        fi
        sleep 0.02
    done
    echo "$* did not start: $(cat "$out")" >&2
    return 1
}
# start_h2up VAR [ARGS]: the HTTP/2 upstream (h2c; --tls CERT KEY for TLS)
start_h2up() { local v=$1; shift; _start_listening "$v" "$TT/h2up.$RANDOM" node "$H2DIR/tests/peers/h2up.js" "$@"; }
# start_grpc_server VAR [ARGS]: the node gRPC server (after grpc_js_setup)
start_grpc_server() { local v=$1; shift; _start_listening "$v" "$TT/gs.$RANDOM" node "$H2DIR/tests/peers/grpc_peer.js" server "$@"; }
# start_grpc_py_server VAR [ARGS]: the python3-grpcio server
start_grpc_py_server() { local v=$1; shift; _start_listening "$v" "$TT/gpy.$RANDOM" /usr/bin/python3 "$H2DIR/tests/peers/grpc_py.py" server "$@"; }
# gcall ADDR METHOD [ARGS]: the node gRPC client (grpc_peer.js call), its lines on stdout
gcall() { timeout -k 2 60 node "$H2DIR/tests/peers/grpc_peer.js" call "$@" 2>&1; }
# pycall ADDR METHOD [ARGS]: the python3-grpcio client
pycall() { timeout -k 2 60 /usr/bin/python3 "$H2DIR/tests/peers/grpc_py.py" call "$@" 2>&1; }
# h2raw ARGS: raw HTTP/2 frames (tests/peers/h2raw.py)
h2raw() { timeout -k 2 60 python3 "$H2DIR/tests/peers/h2raw.py" "$@" 2>&1; }

# h2_ini FILE PROXY LISTEN UPSTREAM MODE [KEY=VALUE...]: a profile with one proxy, admin off
h2_ini() {
    local f=$1 name=$2 p=$3 up=$4 mode=$5
    shift 5
    { printf '[faultline]\nadmin = off\n'; px "$name" "$p" "$up" "mode=$mode" "$@"; } >"$f"
}
# h2fault FILE NAME PROXY TYPE [KEY=VALUE...]: appends a [fault NAME] section
h2fault() {
    local f=$1 name=$2 proxy=$3 type=$4 kv
    shift 4
    printf '[fault %s]\nproxy = %s\ntype = %s\n' "$name" "$proxy" "$type" >>"$f"
    for kv in "$@"; do printf '%s = %s\n' "${kv%%=*}" "${kv#*=}" >>"$f"; done
}
# has PATTERN TEXT: TEXT has a line matching the extended regex PATTERN
has() { grep -qE -- "$1" <<<"$2"; }
# c2 URL [CURL ARGS]: curl over HTTP/2 with prior knowledge: "CODE SECONDS BYTES" (000 on error)
c2() { local u=$1; shift; curl -sS --http2-prior-knowledge -m 10 -o /dev/null -w '%{http_code} %{time_total} %{size_download}\n' "$@" "$u" 2>/dev/null || true; }
