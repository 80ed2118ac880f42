#!/usr/bin/env bash
# bench/distributions.sh [short] -- does `latency`'s distribution come out as asked (issue 24)?
#
# For each distribution (uniform, normal, pareto, paretonormal) at delay = 50ms, jitter = 10ms:
# N round trips of 16 bytes (CONNS connections at once, one round trip at a time each) through a
# tcp proxy with that latency fault (downstream) to an echo upstream (faultc echod). Each round
# trip minus the median round trip without the fault is one measured delay. Printed, as
# markdown: a histogram of the measured delays against the counts the target distribution
# (faults/dist.h) predicts in the same bins, and the Kolmogorov-Smirnov statistic D (the largest
# gap between the measured and the target CDF) with the 5% critical value 1.36/sqrt(N). The
# target of paretonormal has no closed form: its CDF is taken from 400,000 draws of the same
# formula. Not a timed test: numbers from a loaded machine carry the scheduler's noise (a few
# tenths of a millisecond, which shows as D where the target's CDF is steep).
# As root (where chrt works) faultline, the echo and the client run at SCHED_FIFO priority 1, as
# bench/faults.sh's second latency run does: on a loaded machine the scheduler's wake-up delays
# would otherwise land in the measured upper tail (they are all idle-waiting processes; the CPU
# they take is a few percent). NORT=1 turns that off.
# With `write` the output replaces the section "latency distributions" of bench/results.md.
set -u
cd "$(dirname "$0")/.."
source bench/lib.sh
BUILD=${BUILD:-build}
FL=$BUILD/faultline
T=$BUILD/t
[ -x "$FL" ] && [ -x "$T/faultc" ] || { echo "build first: make"; exit 2; }
N=${N:-1200}; CONNS=${CONNS:-8}; WRITE=0
for a in "$@"; do case $a in short) N=240;; write) WRITE=1;; esac; done
RT=()
if [ "$(id -u)" = 0 ] && [ "${NORT:-0}" != 1 ] && command -v chrt >/dev/null && chrt -f 1 true 2>/dev/null; then RT=(chrt -f 1); fi
bench_workdir fdist
FLP=; EP=
trap 'BENCH_MORE_PIDS="$FLP $EP"; bench_cleanup' EXIT
"${RT[@]}" "$T/faultc" echod 127.0.0.1:0 3600 >"$W/echod" 2>&1 & EP=$!
for _ in $(seq 1 100); do grep -q '^listening' "$W/echod" && break; sleep 0.02; done
UP=$(sed -n 's/^listening //p' "$W/echod")
PORT=$(free_port)
fl() {  # fl [FAULT LINES...]: (re)starts faultline with one proxy and the faults
    [ -n "$FLP" ] && { kill "$FLP" 2>/dev/null; wait "$FLP" 2>/dev/null; FLP=; }
    { printf '[faultline]\nadmin = off\nlog = warn\ndrain = 1s\nseed = 24\n[proxy p]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$PORT" "$UP"
      printf '%s\n' "$@"; } >"$W/p.ini"
    "${RT[@]}" "$FL" serve "$W/p.ini" >/dev/null 2>>"$W/fl.log" & FLP=$!
    for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && return 0; sleep 0.05; done
    echo "faultline did not start: $(tail -n 3 "$W/fl.log")"; exit 1
}
rtts() {  # rtts N FILE: N round trips in ms over CONNS connections, one per line
    "${RT[@]}" python3 - "$PORT" "$1" "$CONNS" >"$2" <<'EOF'
import socket, sys, threading, time
port, n, conns = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
out, lock = [], threading.Lock()
def run(k):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    mine = []
    for _ in range(k):
        t = time.monotonic()
        s.sendall(b"x" * 16)
        got = 0
        while got < 16:
            got += len(s.recv(64))
        mine.append((time.monotonic() - t) * 1000)
    s.close()
    with lock: out.extend(mine)
th = [threading.Thread(target=run, args=(n // conns,)) for _ in range(conns)]
for t in th: t.start()
for t in th: t.join()
print("\n".join("%.4f" % v for v in out))
EOF
}
fl
rtts 400 "$W/base"
echo "## latency distributions (issue 24) — \`bench/distributions.sh\`" >"$W/out.md"
{ echo
  echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg);" \
       "$([ ${#RT[@]} -gt 0 ] && echo "faultline, echo and client at SCHED_FIFO 1;" || echo "normal scheduling;")" "delay = 50ms, jitter = 10ms, N = $N round trips per distribution over $CONNS connections;" \
       "the baseline round trip without a fault (median $(sort -n "$W/base" | awk '{a[NR]=$1} END {printf "%.3f", a[int(NR/2)+1]}') ms) is subtracted." \
       "Bins: 12 between the target's 0.5% and 99.5% quantiles, plus the two outer tails."
} >>"$W/out.md"
for dist in uniform normal pareto paretonormal; do
    fl '[fault lat]' 'proxy = p' 'type = latency' 'delay = 50ms' 'jitter = 10ms' "distribution = $dist"
    rtts "$N" "$W/$dist"
    python3 - "$dist" "$W/$dist" "$W/base" >>"$W/out.md" <<'EOF'
import bisect, math, random, statistics, sys
dist, path, base = sys.argv[1], sys.argv[2], sys.argv[3]
b = statistics.median(float(x) for x in open(base))
xs = sorted(float(x) - b for x in open(path))
n = len(xs)
mu, sg = 50.0, 10.0
N01 = statistics.NormalDist()
def par(u): return ((1 - u) ** (-1 / 3) - 1.5) / math.sqrt(0.75)
# the target's CDF: closed forms for three, 400,000 draws for paretonormal (faults/dist.h)
if dist == "uniform":
    cdf = lambda x: min(1.0, max(0.0, (x - (mu - sg)) / (2 * sg)))
    q = lambda p: mu - sg + 2 * sg * p
elif dist == "normal":
    cdf = lambda x: N01.cdf((x - mu) / sg)
    q = lambda p: mu + sg * N01.inv_cdf(p)
elif dist == "pareto":
    def cdf(x):
        z = (x - mu) / sg * math.sqrt(0.75) + 1.5
        return 0.0 if z < 1 else 1 - z ** -3
    q = lambda p: mu + sg * par(p)
else:
    r = random.Random(24)
    ref = sorted(max(0.0, mu + sg * (0.25 * N01.inv_cdf(r.random() or 1e-12) + 0.75 * par(r.random())) / math.sqrt(0.625))
                 for _ in range(400000))
    cdf = lambda x: bisect.bisect_right(ref, x) / len(ref)
    q = lambda p: ref[int(p * len(ref))]
d = max(max(abs((i + 1) / n - cdf(x)), abs(i / n - cdf(x))) for i, x in enumerate(xs))
crit = 1.36 / math.sqrt(n)
lo, hi = q(0.005), q(0.995)
edges = [-1e9] + [lo + (hi - lo) * k / 12 for k in range(13)] + [1e9]
print()
print("### %s: KS D = %.4f (5%% critical value %.4f: %s); measured mean %.2f ms, median %.2f, p99 %.2f"
      % (dist, d, crit, "fits" if d < crit else "does not fit", statistics.fmean(xs), xs[n // 2], xs[int(0.99 * n)]))
print()
print("| bin (ms) | measured | target | |")
print("|---|---:|---:|---|")
for a, c in zip(edges, edges[1:]):
    m = bisect.bisect_left(xs, c) - bisect.bisect_left(xs, a)
    t = (cdf(c) - cdf(a)) * n
    lab = ("< %.1f" % c) if a < -1e8 else ("≥ %.1f" % a) if c > 1e8 else "%.1f–%.1f" % (a, c)
    bar = "#" * int(round(m * 60 / n))
    print("| %s | %d | %.0f | `%s` |" % (lab, m, t, bar))
EOF
done
cat "$W/out.md"
if [ "$WRITE" = 1 ]; then
    python3 - "$W/out.md" <<'EOF'
import re, sys
new = open(sys.argv[1]).read().rstrip("\n") + "\n"
R = "bench/results.md"
s = open(R).read()
m = re.search(r"^## latency distributions .*?(?=^## |\Z)", s, re.S | re.M)
s = s[:m.start()] + new + "\n" + s[m.end():] if m else s.rstrip("\n") + "\n\n" + new
open(R, "w").write(s)
EOF
    echo "(written to bench/results.md)"
fi
