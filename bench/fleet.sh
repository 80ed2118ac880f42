#!/usr/bin/env bash
# bench/fleet.sh [N] [ROUNDS] -- the fleet at scale (issue 23): N daemons (default 50) on loopback
# against one private Redis, driven by `faultline ctl --fleet`.
#
#   apply-to-all: ROUNDS (default 20) `add` commands to every instance; per instance, the time
#                 from the command's timestamp (the controller's clock) to its ack's at_ms (the
#                 instance's clock: one host, one clock); per command, the controller's wall time
#                 until the last of the N acks was in
#   kill-to-all:  the same for ROUNDS `kill` commands (each followed by a resume)
#   at rest:      Redis commands per second per instance over 10 s with nothing sent (INFO
#                 commandstats delta): the heartbeat's and the blocked reads' cost
# Prints markdown (p50/p99 of each). Every process is private and killed at exit.
set -u
N=${1:-50}
ROUNDS=${2:-20}
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$PWD/$BUILD/faultline
[ -x "$FL" ] || { echo "build first: make"; exit 2; }
bench_workdir benchfleet
RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$W" --daemonize no --loglevel warning \
    --maxclients 10000 >"$W/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do redis-cli -p "$RPORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
R() { redis-cli -p "$RPORT" "$@"; }
KEY=$W/key
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$KEY"
chmod 600 "$KEY"
ctl() { "$FL" ctl --fleet "$@" --redis "redis://127.0.0.1:$RPORT" --key-file "$KEY"; }
ports=()
for i in $(seq 1 "$N"); do
    p=$(free_port)
    while [[ " ${ports[*]:-} " == *" $p "* ]]; do p=$(free_port); done
    ports+=("$p")
    printf '[faultline]\nadmin = off\nlog = warn\n[fleet]\nredis = redis://127.0.0.1:%s\nkey_file = %s\nid = b%03d\nservice = bench\nzone = z%d\n[proxy db]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:9\n' \
        "$RPORT" "$KEY" "$i" $((i % 3)) "$p" >"$W/p$i.ini"
    "$FL" serve "$W/p$i.ini" 2>"$W/fl$i.log" &
    PIDS+=($!)
done
up=0
for _ in $(seq 1 200); do
    up=$(ctl --json list 2>/dev/null | jq '[.instances[] | select(.state == "up")] | length')
    [ "${up:-0}" -ge "$N" ] && break
    sleep 0.1
done
[ "${up:-0}" -ge "$N" ] || { echo "only ${up:-0} of $N instances registered"; exit 1; }

# one command's numbers: "<wall ms> <per-instance ms...>"
measure() {  # measure OP ARGS...
    local out
    out=$(ctl --json "$@" 2>/dev/null)
    [ "$(jq -r .applied <<<"$out")" = "$N" ] || { echo "FAIL $(jq -c '{applied,of,timed_out}' <<<"$out")" >&2; }
    jq -r '"\(.ms) " + ([.acks[] | .at_ms - $ts] | map(tostring) | join(" "))' --argjson ts "$(jq .sent_ms <<<"$out")" <<<"$out"
}
: >"$W/apply"
: >"$W/kill"
for k in $(seq 1 "$ROUNDS"); do
    measure add "f$k" type=latency proxy=db delay=1ms --lease 120s >>"$W/apply"
    measure kill >>"$W/kill"
    ctl resume >/dev/null 2>&1
done

# at rest: 10 s with nothing sent
sleep 2
R CONFIG RESETSTAT >/dev/null
sleep 10
R INFO commandstats >"$W/cs"
mem=$(R INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
slen=$(R XLEN faultline:fleet:default:cmd)
ikey=$(R --raw MEMORY USAGE faultline:fleet:default:inst:b001)

python3 - "$N" "$W" "$mem" "$slen" "$ikey" <<'PY'
import sys, re
n, d, mem, slen, ikey = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5] or 0)
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
def load(name):
    wall, per = [], []
    for line in open(f"{d}/{name}"):
        x = line.split()
        if not x: continue
        wall.append(float(x[0])); per += [float(y) for y in x[1:]]
    return wall, per
print(f"### {n} instances, one Redis, loopback\n")
print("| command | rounds | per-instance apply p50 | p99 | max | all {n} acked (controller wall) p50 | p99 | max |".replace("{n}", str(n)))
print("|---|---|---|---|---|---|---|---|")
for name, label in (("apply", "add to all"), ("kill", "kill to all")):
    wall, per = load(name)
    print(f"| {label} | {len(wall)} | {pct(per,50):.0f} ms | {pct(per,99):.0f} ms | {max(per):.0f} ms | {pct(wall,50):.0f} ms | {pct(wall,99):.0f} ms | {max(wall):.0f} ms |")
tot, rows = 0, []
for line in open(f"{d}/cs"):
    m = re.match(r"cmdstat_(\w+):calls=(\d+)", line)
    if m:
        c = int(m.group(2)); tot += c; rows.append((m.group(1), c))
rows.sort(key=lambda r: -r[1])
print(f"\nAt rest (10 s, nothing sent): {tot / 10:.0f} Redis commands/s in all, **{tot / 10 / n:.2f} per instance** ("
      + ", ".join(f"{k} {c / 10 / n:.2f}" for k, c in rows if c) + ").")
print(f"Redis memory {mem / 1e6:.1f} MB with {n} instances, stream length {slen}, one registry key {ikey} bytes.")
PY
