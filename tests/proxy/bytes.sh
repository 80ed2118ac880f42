#!/usr/bin/env bash
# Exact bytes both ways, 1 byte to 100 MiB, checksummed (FNV-1a 64 of a pseudo-random stream):
# echo (both directions at once), a source upstream (upstream -> client only) and a sink
# upstream (client -> upstream only, the sink answers with the count and hash it saw).
. "$(dirname "$0")/../lib.sh"

MiB=1048576
start_peer ECHO 127.0.0.1:0 echo
start_peer SINK 127.0.0.1:0 sink
declare -A SRC SRCL
for n in 1 65537 $((100 * MiB)); do
    start_peer port 127.0.0.1:0 source "$n"
    SRC[$n]=$port
done
LE=$(free_port); LK=$(free_port)
cat >"$TT/p.ini" <<INI
[faultline]
admin = off
[proxy echo]
listen = 127.0.0.1:$LE
upstream = 127.0.0.1:$ECHO
[proxy sink]
listen = 127.0.0.1:$LK
upstream = 127.0.0.1:$SINK
INI
# one proxy per source size, added to the same profile
for n in "${!SRC[@]}"; do
    lp=$(free_port)
    printf '[proxy src%s]\nlisten = 127.0.0.1:%s\nupstream = 127.0.0.1:%s\n' "$n" "$lp" "${SRC[$n]}" >>"$TT/p.ini"
    SRCL[$n]=$lp
done
start_fl "$TT/p.ini" || { fail start "faultline did not start: $(cat "$FL_LOG")"; exit 1; }

# both ways at once: everything sent comes back, same bytes, same order
for n in 1 2 4095 65537 $MiB $((100 * MiB)); do
    out=$("$TBIN/flpeer" echo "127.0.0.1:$LE" "$n")
    check "echo_${n}_bytes_exact" [ "$(kv "$out" match)" = yes ]
done
# odd write sizes (1 byte, 7 bytes at a time) are not coalesced wrongly
out=$("$TBIN/flpeer" echo "127.0.0.1:$LE" 5000 7)
check echo_7_byte_writes_exact [ "$(kv "$out" match)" = yes ]

# upstream -> client: same count and hash as reading the source directly
for n in "${!SRC[@]}"; do
    direct=$("$TBIN/flpeer" read "127.0.0.1:${SRC[$n]}")
    via=$("$TBIN/flpeer" read "127.0.0.1:${SRCL[$n]}")
    if [ "$(kv "$via" bytes)" = "$n" ] && [ "$(kv "$via" fnv)" = "$(kv "$direct" fnv)" ] && [ "$(kv "$via" result)" = eof ]; then
        pass "download_${n}_bytes_exact"
    else
        fail "download_${n}_bytes_exact" "direct: $direct; via faultline: $via"
    fi
done

# client -> upstream: the sink saw exactly what was sent
for n in 1 65537 $((100 * MiB)); do
    out=$("$TBIN/flstream" send "127.0.0.1:$LK" "$n")
    want="OK $n $(kv "$out" fnv)"
    if echo "$out" | grep -q "reply=\"$want\""; then pass "upload_${n}_bytes_exact"
    else fail "upload_${n}_bytes_exact" "$out (wanted reply $want)"; fi
done
check still_running kill -0 "$FL_PID"
done_tests
