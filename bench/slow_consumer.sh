#!/usr/bin/env bash
# bench/slow_consumer.sh [MIB] [RATE_BPS] -- slow consumer (issue 9): MIB MiB (default 1024) from
# the upstream to a client reading at RATE_BPS (default 1 MiB/s: 17 minutes for 1 GiB), and over
# the same time an upstream sending as fast as it can through a `bandwidth` fault of 64 KiB/s.
# Samples the proxy's RSS every 30 s; pass = the peak stays under 64 MiB and every byte of the
# slow transfer arrives intact. Loopback only. tests/hardening/slow_consumer.sh is the scaled
# version that runs in the suite.
set -u
MIB=${1:-1024}
RATE=${2:-1048576}
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$BUILD/faultline
T=$BUILD/t
[ -x "$FL" ] && [ -x "$T/readfor" ] || { echo "build first: make"; exit 2; }
bench_workdir slowc
N=$((MIB * 1048576))
"$T/flpeer" serve 127.0.0.1:0 source $N >"$W/src" & PIDS+=($!)
"$T/flpeer" serve 127.0.0.1:0 source $((4 * N)) >"$W/big" & PIDS+=($!)
sleep 0.5
SRC=$(sed -n 's/^listening //p' "$W/src"); BIG=$(sed -n 's/^listening //p' "$W/big")
PS=$(free_port); PB=$(free_port)
cat >"$W/p.ini" <<INI
[faultline]
admin = off
[proxy slow]
listen = 127.0.0.1:$PS
upstream = 127.0.0.1:$SRC
[proxy bw]
listen = 127.0.0.1:$PB
upstream = 127.0.0.1:$BIG
[fault bw64]
proxy = bw
type = bandwidth
rate = 64KiB
direction = downstream
INI
"$FL" serve "$W/p.ini" 2>"$W/fl.log" & FLP=$!; PIDS+=($FLP)
sleep 0.5
direct=$("$T/flpeer" read "127.0.0.1:$SRC" 60000)
secs=$(( N / RATE + 60 ))
"$T/readfor" "127.0.0.1:$PS" "$secs" "$RATE" >"$W/slow.out" & R1=$!; PIDS+=($R1)
"$T/readfor" "127.0.0.1:$PB" $(( N / RATE )) >"$W/bw.out" & R2=$!; PIDS+=($R2)
rss0=$(awk '/^VmRSS/ {print $2}' /proc/$FLP/status)
echo "slow consumer: ${MIB} MiB at ${RATE} B/s, plus a bandwidth fault of 64 KiB/s; RSS at start ${rss0} KiB"
echo
echo "| t (s) | RSS (KiB) | fds |"
echo "|---:|---:|---:|"
t0=$(date +%s); peak=$rss0; last=0
while kill -0 $R1 2>/dev/null || kill -0 $R2 2>/dev/null; do
    sleep 1
    r=$(awk '/^VmRSS/ {print $2}' /proc/$FLP/status 2>/dev/null || echo 0)
    [ "$r" -gt "$peak" ] && peak=$r
    el=$(( $(date +%s) - t0 ))
    if [ $((el - last)) -ge 30 ]; then
        last=$el
        echo "| $el | $r | $(ls /proc/$FLP/fd 2>/dev/null | wc -l) |"
    fi
done
slow=$(cat "$W/slow.out"); bw=$(cat "$W/bw.out")
echo
echo "slow transfer: $slow"
echo "bandwidth transfer: $bw"
echo "peak RSS: $peak KiB"
fails=""
[ "$peak" -lt 65536 ] || fails="$fails rss-over-64MiB($peak)"
kv() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
[ "$(kv "$slow" bytes)" = "$N" ] && [ "$(kv "$slow" fnv)" = "$(kv "$direct" fnv)" ] || fails="$fails slow-transfer-incomplete"
if [ -z "$fails" ]; then echo "slow_consumer: PASS"; else echo "slow_consumer: FAIL:$fails"; exit 1; fi
