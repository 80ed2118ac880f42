#!/usr/bin/env bash
# bench/cost.sh -- what one proxied request costs the proxy itself: CPU time and system calls per
# request of faultline (tcp mode, no fault) and haproxy (tcp mode, nbthread 1), both in front of
# the same one-worker nginx on loopback, with keep-alive and with "Connection: close" (one new
# proxied connection per request), in alternating rounds.
#
# Why: on a shared machine wrk's requests/s measure the scheduler as much as the proxy, and the
# ratio of two proxies moves by tens of percent from run to run. The proxy's own CPU time per
# request (perf stat task-clock on its process) and its system calls per request
# (raw_syscalls:sys_enter) do not depend on who else runs; the proxy that costs less per request
# is the faster one once it is the bottleneck. (Both still drift a little with load: a busy loop
# serves more events per epoll_wait.) A short strace -c run per target and mode breaks the system
# calls down by name.
#
# Usage: bench/cost.sh [ROUNDS]   (default 3; DUR seconds per wrk run, default 4). Prints a
# markdown table of medians and the per-call breakdown; writes nothing. Needs perf, wrk, nginx,
# haproxy (bench/passthrough.sh installs the last three); strace for the breakdown.
# Before/after in one run: FL_B=/path/to/other/faultline (and FL_B_ENV="VAR=value ..." for its
# environment) adds a third target, "faultline_b", measured in the same alternating rounds, so
# both builds see the same load.
set -eu
cd "$(dirname "$0")/.."
source bench/lib.sh
ROUNDS=${1:-3}
DUR=${DUR:-4}
BUILD=${BUILD:-build}
FL=${FL:-$PWD/$BUILD/faultline}
for t in perf wrk nginx haproxy; do command -v $t >/dev/null || { echo "cost: $t not installed (bench/passthrough.sh installs wrk, nginx, haproxy)"; exit 2; }; done
[ -x "$FL" ] || make -s all BUILD="$BUILD"

bench_workdir flcost
NP=$(free_port); FP=$(free_port); HP=$(free_port); BP=$(free_port)

mkdir -p "$W/nginx"
cat >"$W/nginx.conf" <<EOF
worker_processes 1;
daemon off;
master_process off;
pid $W/nginx.pid;
error_log $W/nginx/error.log warn;
events { worker_connections 4096; use epoll; multi_accept on; }
http {
    access_log off;
    client_body_temp_path $W/nginx; proxy_temp_path $W/nginx; fastcgi_temp_path $W/nginx;
    uwsgi_temp_path $W/nginx; scgi_temp_path $W/nginx;
    keepalive_requests 10000000;
    server {
        listen 127.0.0.1:$NP backlog=8192;
        location / { return 200 "hello from nginx\n"; }
    }
}
EOF
cat >"$W/fl.ini" <<EOF
[faultline]
admin = off
log = warn
[proxy web]
listen = 127.0.0.1:$FP
upstream = 127.0.0.1:$NP
EOF
cat >"$W/haproxy.cfg" <<EOF
global
    maxconn 4096
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
frontend web
    bind 127.0.0.1:$HP
    default_backend nginx
backend nginx
    server n1 127.0.0.1:$NP
EOF
sed -e "s/^listen = .*/listen = 127.0.0.1:$BP/" "$W/fl.ini" >"$W/fl_b.ini"
nginx -c "$W/nginx.conf" -p "$W/nginx" & PIDS+=($!)
"$FL" serve "$W/fl.ini" 2>"$W/fl.log" & FL_PID=$!; PIDS+=($FL_PID)
haproxy -db -f "$W/haproxy.cfg" 2>"$W/haproxy.log" & HA_PID=$!; PIDS+=($HA_PID)
FLB_PID=
if [ -n "${FL_B:-}" ]; then
    # shellcheck disable=SC2086
    env ${FL_B_ENV:-} "$FL_B" serve "$W/fl_b.ini" 2>"$W/fl_b.log" & FLB_PID=$!; PIDS+=($FLB_PID)
    wait_port "$BP" || { echo "cost: faultline_b did not start"; exit 1; }
fi
wait_port "$NP" && wait_port "$FP" && wait_port "$HP" || { echo "cost: a server did not start"; exit 1; }

pid_of() { case $1 in faultline) echo "$FL_PID";; faultline_b) echo "$FLB_PID";; haproxy) echo "$HA_PID";; esac; }
port_of() { case $1 in faultline) echo "$FP";; faultline_b) echo "$BP";; haproxy) echo "$HP";; esac; }
# one measured run: appends "MODE TARGET rps cpu_us_per_req syscalls_per_req" to $W/raw
measure() {
    local mode=$1 t=$2 H=() out req
    [ "$mode" = close ] && H=(-H "Connection: close")
    perf stat -x, -e raw_syscalls:sys_enter,task-clock -p "$(pid_of "$t")" -o "$W/ps" 2>/dev/null & local ps=$!
    out=$(wrk -t2 -c50 -d"${DUR}s" "${H[@]}" "http://127.0.0.1:$(port_of "$t")/")
    kill -INT $ps; wait $ps || true
    req=$(awk '/requests in/ {print $1}' <<<"$out")
    awk -F, -v m="$mode" -v t="$t" -v r="$req" -v rps="$(awk '/^Requests\/sec/ {print $2}' <<<"$out")" '
        /raw_syscalls/ { s = $1 } /task-clock/ { c = $1 }
        END { if (r > 0) printf "%s %s %.0f %.2f %.2f\n", m, t, rps, c * 1000 / r, s / r }' "$W/ps" >>"$W/raw"
}
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
targets=(faultline haproxy); [ -n "$FLB_PID" ] && targets+=(faultline_b)
for r in $(seq 1 "$ROUNDS"); do
    order=("${targets[@]}")
    if [ $((r % 2)) = 0 ]; then order=(); for ((i = ${#targets[@]} - 1; i >= 0; i--)); do order+=("${targets[i]}"); done; fi
    for mode in keepalive close; do for t in "${order[@]}"; do measure $mode "$t"; done; done
    echo "round $r done (load $(cut -d' ' -f1 /proc/loadavg))" >&2
done
echo
echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average at the start $LOAD0, at the end $(cut -d' ' -f1-3 /proc/loadavg); medians of $ROUNDS rounds, wrk -t2 -c50 -d${DUR}s."
echo
echo "| | faultline CPU µs/req | haproxy CPU µs/req | faultline/haproxy | faultline syscalls/req | haproxy syscalls/req | faultline req/s | haproxy req/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for mode in keepalive close; do
    fc=$(raw_med $mode faultline 4); hc=$(raw_med $mode haproxy 4)
    echo "| $mode | $fc | $hc | $(awk -v a="$fc" -v b="$hc" 'BEGIN { printf "%.2f", a / b }') | $(raw_med $mode faultline 5) | $(raw_med $mode haproxy 5) | $(raw_med $mode faultline 3) | $(raw_med $mode haproxy 3) |"
done
if [ -n "$FLB_PID" ]; then
    echo
    echo "faultline_b = $FL_B ${FL_B_ENV:-}"
    echo
    echo "| | faultline_b CPU µs/req | faultline_b/haproxy | faultline_b/faultline | faultline_b syscalls/req | faultline_b req/s |"
    echo "|---|---:|---:|---:|---:|---:|"
    for mode in keepalive close; do
        bc=$(raw_med $mode faultline_b 4); fc=$(raw_med $mode faultline 4); hc=$(raw_med $mode haproxy 4)
        echo "| $mode | $bc | $(awk -v a="$bc" -v b="$hc" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$bc" -v b="$fc" 'BEGIN { printf "%.2f", a / b }') | $(raw_med $mode faultline_b 5) | $(raw_med $mode faultline_b 3) |"
    done
fi
echo
echo "Raw (mode target req/s cpu_us/req syscalls/req):"
echo '```'
cat "$W/raw"
echo '```'

# breakdown by call: a short strace -c per target and mode (strace slows the proxy: only the
# counts per request mean something here, not the times)
if command -v strace >/dev/null; then
    echo
    echo "System calls per request by name (strace -c, wrk -t1 -c10 -d2s):"
    echo '```'
    for mode in keepalive close; do
        for t in "${targets[@]}"; do
            H=(); [ "$mode" = close ] && H=(-H "Connection: close")
            strace -c -f -p "$(pid_of "$t")" -o "$W/st" 2>/dev/null & st=$!
            sleep 0.3
            out=$(wrk -t1 -c10 -d2s "${H[@]}" "http://127.0.0.1:$(port_of "$t")/")
            kill -INT $st; wait $st || true
            req=$(awk '/requests in/ {print $1}' <<<"$out")
            printf '%-9s %-11s ' "$mode" "$t"
            awk -v r="$req" '$1 ~ /^[0-9.]+$/ && $NF != "total" { printf "%s %.2f  ", $NF, $4 / r } END { print "" }' "$W/st"
        done
    done
    echo '```'
fi
