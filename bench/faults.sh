#!/usr/bin/env bash
# bench/faults.sh [short] -- accuracy and cost of the TCP faults (issue 3), loopback only.
#
#   1. latency accuracy: N round trips (16 B, one connection) through `latency delay=100ms`
#      to an echo upstream; the error of each round trip against 100 ms, p50 and p99
#      (targets: median <= 0.5 ms, p99 <= 2 ms). As root, measured a second time with the
#      client, the echo and faultline all at SCHED_FIFO priority 1 (chrt): on a shared machine
#      the p99 of the first run is the scheduler's (the baseline without a fault has the same
#      tail); the second shows what the fault's timer mechanism adds on its own.
#   2. bandwidth accuracy at 64 KiB/s and 8 MiB/s, read from a fast source (target +-5%).
#   3. CPU and RSS of faultline while 5,000 connections are held by `hang` (target < 1% CPU,
#      <= 4 KiB per connection beyond the bytes held).
#   4. pass-through throughput (a 2 GB stream from a source upstream) with no fault vs a fault
#      defined with probability 0 (target: within 5%).
# `short` (or SHORT=1) shrinks every run so the script can be checked in a minute. Prints one
# line per measurement; numbers from a shared machine are noisy, run it on a quiet one.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FL=$BUILD/faultline
T=$BUILD/t
[ -x "$FL" ] && [ -x "$T/flpeer" ] && [ -x "$T/faultc" ] || { echo "build first: make"; exit 2; }
SHORT=${SHORT:-0}
[ "${1:-}" = short ] && SHORT=1
if [ "$SHORT" = 1 ]; then N_LAT=30 BW_SECS=3 HOLD_N=1000 HOLD_SECS=5 TP_SECS=2
else N_LAT=200 BW_SECS=10 HOLD_N=5000 HOLD_SECS=20 TP_SECS=5; fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null
D=$(mktemp -d /tmp/fbench.XXXXXX)
PIDS=()
FLP=
trap 'for p in "${PIDS[@]}" $FLP; do kill "$p" 2>/dev/null; done; sleep 0.2; rm -rf "$D"' EXIT

RT=()   # a command prefix for the processes under test (chrt for the real-time latency run)
peer() {  # peer VAR MODE [ARGS]: starts flpeer serve, sets VAR to its port
    local var=$1; shift
    "${RT[@]}" "$T/flpeer" serve 127.0.0.1:0 "$@" >"$D/peer.$var" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 100); do grep -q '^listening' "$D/peer.$var" && break; sleep 0.02; done
    printf -v "$var" '%s' "$(sed -n 's/^listening //p' "$D/peer.$var")"
}
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n1; }
PORT=$((30000 + RANDOM % 20000))
fl() {  # fl UPSTREAM [FAULT LINES...]: (re)starts faultline with one proxy and the faults
    local up=$1; shift
    [ -n "$FLP" ] && { kill "$FLP" 2>/dev/null; wait "$FLP" 2>/dev/null; FLP=; }
    { printf '[faultline]\nadmin = off\nlog = warn\ndrain = 1s\n[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PORT" "$up"
      printf '%s\n' "$@"; } >"$D/p.ini"
    "${RT[@]}" "$FL" serve "$D/p.ini" >/dev/null 2>>"$D/fl.log" &
    FLP=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0; sleep 0.05; done
    echo "faultline did not start: $(tail -n 3 "$D/fl.log")"; exit 1
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
HZ=$(getconf CLK_TCK)

echo "# bench/faults.sh $( [ "$SHORT" = 1 ] && echo short) on $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
peer ECHO echo
peer SRC source 100000000000

# 1. latency accuracy
fl "$ECHO" '[fault lat]' 'proxy = p' 'type = latency' 'delay = 100ms'
out=$("$T/faultc" rtt "127.0.0.1:$PORT" "$N_LAT" 100)
echo "latency delay=100ms n=$N_LAT: err_p50_ms=$(kv "$out" err_p50_ms) err_p99_ms=$(kv "$out" err_p99_ms) (rtt p50=$(kv "$out" p50_ms) p99=$(kv "$out" p99_ms) max=$(kv "$out" max_ms))"
fl "$ECHO"
out=$("$T/faultc" rtt "127.0.0.1:$PORT" "$N_LAT")
echo "  baseline without fault: rtt p50_ms=$(kv "$out" p50_ms) p99_ms=$(kv "$out" p99_ms)"
if [ "$(id -u)" = 0 ] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then
    RT=(chrt -f 1)
    peer RTECHO echo
    fl "$RTECHO" '[fault lat]' 'proxy = p' 'type = latency' 'delay = 100ms'
    out=$("${RT[@]}" "$T/faultc" rtt "127.0.0.1:$PORT" "$N_LAT" 100)
    echo "  real-time (chrt -f 1: client, echo, faultline): err_p50_ms=$(kv "$out" err_p50_ms) err_p99_ms=$(kv "$out" err_p99_ms) (rtt p50=$(kv "$out" p50_ms) p99=$(kv "$out" p99_ms) max=$(kv "$out" max_ms))"
    fl "$RTECHO"
    out=$("${RT[@]}" "$T/faultc" rtt "127.0.0.1:$PORT" "$N_LAT")
    echo "  real-time baseline without fault: rtt p50_ms=$(kv "$out" p50_ms) p99_ms=$(kv "$out" p99_ms)"
    RT=()
fi

# 2. bandwidth accuracy
for rate in 65536:64KiB 8388608:8MiB; do
    want=${rate%%:*} txt=${rate#*:}
    fl "$SRC" '[fault bw]' 'proxy = p' 'type = bandwidth' "rate = $txt"
    t0=$(ticks "$FLP")
    out=$("$T/faultc" rate "127.0.0.1:$PORT" "$BW_SECS")
    t1=$(ticks "$FLP")
    got=$(kv "$out" rate)
    echo "bandwidth rate=$txt over ${BW_SECS}s: measured=$got B/s error=$(awk -v g="$got" -v w="$want" 'BEGIN{printf "%+.2f%%", (g-w)*100/w}') cpu=$(awk -v t=$((t1 - t0)) -v s="$BW_SECS" -v hz="$HZ" 'BEGIN{printf "%.1f%%", t*100/hz/s}')"
done

# 3. hang: N held connections, CPU and RSS
fl "$ECHO" '[fault h]' 'proxy = p' 'type = hang'
r0=$(rss "$FLP")
"$T/faultc" hold "127.0.0.1:$PORT" "$HOLD_N" $((HOLD_SECS + 8)) >"$D/hold.out" &
HP=$!
for _ in $(seq 1 200); do grep -q '^# holding' "$D/hold.out" && break; sleep 0.05; done
sleep 2
r1=$(rss "$FLP"); t0=$(ticks "$FLP")
sleep "$HOLD_SECS"
t1=$(ticks "$FLP"); r2=$(rss "$FLP")
echo "hang x$(sed -n 's/^# holding //p' "$D/hold.out") held ${HOLD_SECS}s: cpu=$(awk -v t=$((t1 - t0)) -v s="$HOLD_SECS" -v hz="$HZ" 'BEGIN{printf "%.2f%%", t*100/hz/s}') rss_before=${r0}KiB rss_held=${r2}KiB per_conn=$(awk -v a="$r0" -v b="$r2" -v n="$HOLD_N" 'BEGIN{printf "%.2f KiB", (b-a)/n}') (5 B held each)"
wait "$HP"
echo "  client: $(tail -n1 "$D/hold.out")"

# 4. pass-through throughput: no fault vs a fault defined but never selected
best() {  # best VAR [FAULT LINES...]: sets VAR to the best rate of 3 runs and VAR_cpu to
          # faultline's CPU seconds per GiB over the 3 (no subshell: fl sets FLP)
    local var=$1; shift
    fl "$SRC" "$@"
    local b=0 i out r t0 t1 ticks=0 bytes=0
    for i in 1 2 3; do
        t0=$(ticks "$FLP")
        out=$("$T/faultc" rate "127.0.0.1:$PORT" "$TP_SECS")
        t1=$(ticks "$FLP")
        r=$(kv "$out" rate)
        ticks=$((ticks + t1 - t0))
        bytes=$(awk -v a="$bytes" -v r="$r" -v s="$TP_SECS" 'BEGIN{printf "%.0f", a + r * s}')
        b=$(awk -v a="$b" -v r="$r" 'BEGIN{print (r > a ? r : a)}')
    done
    printf -v "$var" '%s' "$b"
    printf -v "${var}_cpu" '%s' "$(awk -v t="$ticks" -v hz="$HZ" -v b="$bytes" 'BEGIN{printf "%.3f", b > 0 ? t / hz / (b / 1073741824) : -1}')"
}
best nofault
best p0 '[fault lat]' 'proxy = p' 'type = latency' 'delay = 100ms' 'probability = 0'
echo "pass-through ${TP_SECS}s x3 (best): no_fault=$(awk -v r="$nofault" 'BEGIN{printf "%.0f MiB/s", r/1048576}') fault_p0=$(awk -v r="$p0" 'BEGIN{printf "%.0f MiB/s", r/1048576}') diff=$(awk -v a="$nofault" -v b="$p0" 'BEGIN{printf "%+.1f%%", (b-a)*100/a}')"
echo "  faultline CPU per GiB (load-independent): no_fault=${nofault_cpu}s fault_p0=${p0_cpu}s diff=$(awk -v a="$nofault_cpu" -v b="$p0_cpu" 'BEGIN{printf "%+.1f%%", (b-a)*100/a}')"
