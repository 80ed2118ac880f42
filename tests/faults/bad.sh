#!/usr/bin/env bash
# Bad fault definitions: exit 2 with PATH:LINE: and the offending key named, from both
# `faultline check` and `faultline serve`; a bad reload keeps the running faults.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.inc"

LP=$(free_port)
bad() {  # bad NAME LINE PATTERN LINES...
    local name=$1 line=$2 pat=$3; shift 3
    fprofile "$TT/$name.ini" 9 "$LP" "$@"
    "$FL" check "$TT/$name.ini" >"$TT/$name.err" 2>&1; local rc=$?
    if [ "$rc" = 2 ] && grep -q "$name.ini:$line:.*$pat" "$TT/$name.err"; then pass "bad_$name"
    else fail "bad_$name" "rc=$rc $(cat "$TT/$name.err")"; fi
}
# the fault section starts on line 7: [fault x] 7, proxy 8, type 9, key 10, ...
bad unknown_type 9 "type" '[fault x]' 'proxy = p' 'type = earthquake'
bad unknown_key 10 "jitter" '[fault x]' 'proxy = p' 'type = bandwidth' 'jitter = 5ms' 'rate = 1KiB'
bad missing_type 7 "type" '[fault x]' 'proxy = p' 'delay = 1s'
bad missing_proxy 7 "proxy" '[fault x]' 'type = drop'
bad unknown_proxy 8 "proxy" '[fault x]' 'proxy = nope' 'type = drop'
bad probability_high 10 "probability" '[fault x]' 'proxy = p' 'type = drop' 'probability = 1.5'
bad probability_neg 10 "probability" '[fault x]' 'proxy = p' 'type = drop' 'probability = -0.1'
bad bad_direction 10 "direction" '[fault x]' 'proxy = p' 'type = drop' 'direction = sideways'
bad bad_start 10 "start" '[fault x]' 'proxy = p' 'type = drop' 'start = soon'
bad bad_duration 10 "duration" '[fault x]' 'proxy = p' 'type = drop' 'duration = 5'
bad latency_delay 10 "delay" '[fault x]' 'proxy = p' 'type = latency' 'delay = fast'
bad latency_jitter 7 "jitter" '[fault x]' 'proxy = p' 'type = latency' 'delay = 1ms' 'jitter = 5ms'
bad latency_distribution 10 "distribution" '[fault x]' 'proxy = p' 'type = latency' 'distribution = lognormal'
bad latency_correlation 10 "correlation" '[fault x]' 'proxy = p' 'type = latency' 'correlation = 150%'
bad loss_missing_p 7 "p" '[fault x]' 'proxy = p' 'type = loss' 'rto = 100ms'
bad loss_p_high 10 "p" '[fault x]' 'proxy = p' 'type = loss' 'p = 2'
bad loss_rto_max 7 "rto_max" '[fault x]' 'proxy = p' 'type = loss' 'p = 1%' 'rto = 1s' 'rto_max = 500ms'
bad corrupt_missing 7 "per_byte" '[fault x]' 'proxy = p' 'type = corrupt'
bad corrupt_zero 7 "per_byte" '[fault x]' 'proxy = p' 'type = corrupt' 'per_byte = 0'
bad corrupt_high 10 "per_byte" '[fault x]' 'proxy = p' 'type = corrupt' 'per_byte = 120%'
bad close_after_nothing 7 "bytes, requests or age" '[fault x]' 'proxy = p' 'type = close_after' 'close = fin'
bad close_after_how 11 "close" '[fault x]' 'proxy = p' 'type = close_after' 'age = 1s' 'close = slam'
bad close_after_requests 10 "requests" '[fault x]' 'proxy = p' 'type = close_after' 'requests = 0'
bad stale_idle_missing 7 "idle" '[fault x]' 'proxy = p' 'type = stale_idle'
bad stale_idle_on_use 11 "on_use" '[fault x]' 'proxy = p' 'type = stale_idle' 'idle = 1s' 'on_use = explode'
bad connect_delay_missing 7 "delay" '[fault x]' 'proxy = p' 'type = connect_delay'
bad connect_delay_dist 11 "distribution" '[fault x]' 'proxy = p' 'type = connect_delay' 'delay = 1s' 'distribution = flat'
bad hang_on_end 10 "on_end" '[fault x]' 'proxy = p' 'type = hang' 'on_end = explode'
bad hang_after_bytes 10 "after_bytes" '[fault x]' 'proxy = p' 'type = hang' 'after_bytes = lots'
bad drop_after 10 "after" '[fault x]' 'proxy = p' 'type = drop' 'after = 1'
bad reset_key 10 "bytes" '[fault x]' 'proxy = p' 'type = reset' 'bytes = 10'
bad limit_missing 7 "bytes" '[fault x]' 'proxy = p' 'type = limit_data'
bad slicer_missing 7 "size" '[fault x]' 'proxy = p' 'type = slicer' 'delay = 1ms'
bad slicer_size 10 "size" '[fault x]' 'proxy = p' 'type = slicer' 'size = big'
bad bandwidth_zero 7 "rate" '[fault x]' 'proxy = p' 'type = bandwidth' 'rate = 0'
bad slow_close_delay 10 "delay" '[fault x]' 'proxy = p' 'type = slow_close' 'delay = later'
bad blackhole_key 10 "size" '[fault x]' 'proxy = p' 'type = blackhole' 'size = 1'
bad refuse_key 10 "after" '[fault x]' 'proxy = p' 'type = refuse' 'after = 1s'
# a type that needs another mode names the type and the proxy's mode (the key order must not matter)
bad http_type_on_tcp 9 "type 'http_error' needs an http proxy; 'p' is mode tcp" '[fault x]' 'proxy = p' 'type = http_error'
bad http_type_first 8 "type 'http_error' needs an http proxy; 'p' is mode tcp" '[fault x]' 'type = http_error' 'proxy = p'
bad pg_type_on_tcp 9 "type 'pg_error' needs a postgres proxy; 'p' is mode tcp" '[fault x]' 'proxy = p' 'type = pg_error' 'sqlstate = 40001'
bad timeout_on_end 11 "on_end" '[fault x]' 'proxy = p' 'type = timeout' 'timeout = 1s' 'on_end = maybe'

# a bad seed: [faultline] is lines 1-3 of fprofile's header, seed the 4th
fprofile "$TT/seed.ini" 9 "$LP"; sed -i 's/^log = debug$/log = debug\nseed = -3/' "$TT/seed.ini"
"$FL" check "$TT/seed.ini" >"$TT/seed.err" 2>&1; rc=$?
check bad_seed_exit2 [ "$rc" = 2 ]
check bad_seed_line grep -q "seed.ini:4:.*seed" "$TT/seed.err"

# serve refuses a bad profile with exit 2 too
"$FL" serve "$TT/unknown_key.ini" >"$TT/serve.err" 2>&1; rc=$?
check bad_serve_exit2 [ "$rc" = 2 ]
check bad_serve_path_line grep -q "unknown_key.ini:10:" "$TT/serve.err"

# a reload with a bad fault keeps the faults in force
start_peer ECHO 127.0.0.1:0 echo
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault lat]' 'proxy = p' 'type = latency' 'delay = 100ms'
start_fl "$TT/p.ini" || { fail start "faultline did not start"; exit 1; }
fprofile "$TT/p.ini" "$ECHO" "$LP" '[fault lat]' 'proxy = p' 'type = latency' 'delay = oops'
kill -HUP "$FL_PID"
wait_for 5 grep -q 'event=reload_failed' "$FL_LOG"
check bad_reload_logged_with_line grep -q 'event=reload_failed.*p.ini:10:' "$FL_LOG"
out=$("$TBIN/faultc" rtt "127.0.0.1:$LP" 2)
check bad_reload_kept_fault within "$(num "$out" min_ms)" 90 400
done_tests
