#!/usr/bin/env bash
# probability: a share of connections, decided once per connection (both directions agree).
# Written as 0..1 or as a percentage: the first case's `50%` must act as 0.5.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

start_peer ECHO 127.0.0.1:0 echo
LP=$(free_port)
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault half]' 'proxy = p' 'type = drop' 'probability = 50%'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 400 2000)
echo "# p=50% x400: $out"
affected=$(( $(kv "$out" eof) + $(kv "$out" reset) + $(kv "$out" error) ))
# binomial(400, 0.5): mean 200, sd 10; 150..250 is 5 sd (false failure 5.7e-7, two-sided);
# a fault dropping every connection or none, or a share off by 0.15, still fails it
check probability_half_within_binomial within "$(kv "$out" data)" 150 250
check probability_rest_dropped [ $((affected + $(kv "$out" data))) = 400 ]

fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault half]' 'proxy = p' 'type = drop' 'probability = 0'
reload || fail reload "no reload"
line=$(fault_line fault_removed half)
echo "# $line"
check probability_counters_seen_vs_affected within "$(num "$line" conns_seen)" 400 402
check probability_counters_affected within "$(num "$line" conns_affected)" 150 252
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 50 2000)
check probability_zero_never [ "$(kv "$out" data)" = 50 ]
out=$("$TBIN/faultc" calls "127.0.0.1:$LP" 1 2000)

# once per connection: a latency of D = 150 ms on both directions, p=0.5: each connection's
# round trips are all slow (both directions delayed: every trip >= 2D, a hard floor whatever the
# load) or fast (neither delayed: no delay, only the machine's noise). A connection whose
# directions were drawn apart has trips of D plus noise: its fastest trip lands in [D, 2D).
# The bounds are the delays themselves, not the machine's speed: a fast connection is misread
# only if the best of its 3 trips waits >= 150 ms on a loaded machine (40 ms did: a fast
# connection's best trip took 43 ms at load 20 and counted as mixed). What still fails: any
# connection whose fastest trip is in [D, 2D), i.e. one direction delayed and not the other.
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault half]' 'proxy = p' 'type = latency' 'delay = 150ms' 'direction = both' 'probability = 0.5'
reload || fail reload "no reload"
slow=0 fast=0 mixed=0
for i in $(seq 1 20); do
    out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 3)
    mn=$(num "$out" min_ms)
    if within "$mn" 300 100000; then slow=$((slow + 1))
    elif within "$mn" 0 149.999; then fast=$((fast + 1))
    else mixed=$((mixed + 1)); echo "# mixed: $out"; fi
done
echo "# per connection: slow=$slow fast=$fast mixed=$mixed"
check probability_once_per_connection [ "$mixed" = 0 ]
# 20 connections at p=0.5 all of one kind: 2 x 0.5^20 = 1.9e-6 (the false-failure rate)
check probability_both_kinds_seen eval '[ "$slow" -ge 1 ] && [ "$fast" -ge 1 ]'
done_tests
