#!/usr/bin/env bash
# Who may command the fleet (issue 23): a command written straight into the fleet's stream is
# refused unless it is signed with the fleet key -- unsigned, a wrong signature (or another
# key), stale (timestamp 31 s off either way) and replayed (the same signed entry twice) are
# refused, counted per reason in /stats and /metrics, and logged without the key or the
# signature; a correct one written the same way (openssl's HMAC, not faultline's) is applied.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib_fleet.bash"

fleet_redis_start || { fail redis "redis did not start"; exit 1; }
fleet_start 5 || { fail start "the fleet did not come up"; exit 1; }
STREAM=faultline:fleet:default:cmd
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# msg NAME TS NONCE: an add of latency fault NAME on every instance
msg() { printf '{"fault":{"delay":"300ms","name":"%s","proxy":"db","type":"latency"},"id":"%s","lease_id":"t","lease_ms":5000,"nonce":"%s","op":"add","sel":"","ts":%s,"v":1}' "$1" "${1}id" "$3" "$2"; }
sign() { printf 'faultline-fleet-v1\n%s' "$1" | openssl dgst -sha256 -hmac "$2" | sed 's/.*= //'; }
xadd() { redis-cli -p "$RPORT" XADD "$STREAM" '*' "$@" >/dev/null; }
none_has() { local i; for i in 1 2 3 4 5; do grep -qw "$1" <<<"$(faults_of $i)" && return 1; done; return 0; }
all_have() { local i; for i in 1 2 3 4 5; do grep -qw "$1" <<<"$(faults_of $i)" || return 1; done; }
refused() { curl -s "$(admin "$1")/stats" | jq -r ".fleet.refused.$2"; }

# --- unsigned
xadd m "$(msg unsigned1 "$(now_ms)" 00112233445566778899aabbccddeeff)"
wait_for 10 eval '[ "$(refused 1 unsigned)" = 1 ]'   # the instance has read and refused it
check unsigned_not_applied none_has unsigned1
check unsigned_counted [ "$(refused 1 unsigned)" = 1 ]

# --- bad signature: another key, and a flipped byte
m=$(msg badsig1 "$(now_ms)" 10112233445566778899aabbccddeeff)
xadd m "$m" sig "$(sign "$m" "not-the-fleet-key-at-all-0123456789")"
good=$(sign "$m" "$(cat "$KEY")")
xadd m "${m/300ms/301ms}" sig "$good"
wait_for 10 eval '[ "$(refused 2 bad_signature)" = 2 ]'   # the instance has read and refused it
check badsig_not_applied none_has badsig1
check badsig_counted [ "$(refused 2 bad_signature)" = 2 ]

# --- stale: correctly signed, 31 s old and 31 s ahead
for off in -31000 31000; do
    m=$(msg stale1 $(( $(now_ms) + off )) "2$((off < 0 ? 0 : 1))112233445566778899aabbccddeeff")
    xadd m "$m" sig "$(sign "$m" "$(cat "$KEY")")"
done
wait_for 10 eval '[ "$(refused 3 stale)" = 2 ]'   # the instance has read and refused it
check stale_not_applied none_has stale1
check stale_counted [ "$(refused 3 stale)" = 2 ]

# --- a correct one, written by hand, is applied; the same entry again is a replay
m=$(msg handmade1 "$(now_ms)" 30112233445566778899aabbccddeeff)
s=$(sign "$m" "$(cat "$KEY")")
xadd m "$m" sig "$s"
wait_for 3 all_have handmade1
check handmade_applied all_have handmade1
redis-cli -p "$RPORT" LRANGE faultline:fleet:default:ack:handmade1id 0 -1 >"$TT/acks"
check handmade_acked [ "$(grep -c '"ok":true' "$TT/acks")" = 5 ]
fleet_ctl rm handmade1 >/dev/null 2>&1
xadd m "$m" sig "$s"
wait_for 10 eval '[ "$(refused 4 replayed)" = 1 ]'   # the instance has read and refused it
check replay_not_applied none_has handmade1
check replay_counted [ "$(refused 4 replayed)" = 1 ]

# --- counted in /metrics too, on every instance
curl -s "$(admin 5)/metrics" >"$TT/metrics"
check metrics_unsigned grep -q '^faultline_fleet_refused_total{reason="unsigned"} 1$' "$TT/metrics"
check metrics_badsig grep -q '^faultline_fleet_refused_total{reason="bad_signature"} 2$' "$TT/metrics"
check metrics_stale grep -q '^faultline_fleet_refused_total{reason="stale"} 2$' "$TT/metrics"
check metrics_replayed grep -q '^faultline_fleet_refused_total{reason="replayed"} 1$' "$TT/metrics"
check metrics_help grep -q '^# HELP faultline_fleet_refused_total ' "$TT/metrics"

# --- logged, without secrets
check refusal_logged grep -q 'event=fleet_refused .*reason=unsigned' "$TT/fl1.log"
check no_key_in_logs bash -c "! grep -qF '$(cat "$KEY")' $TT/fl*.log"
check no_sig_in_logs bash -c "! grep -qF '$s' $TT/fl*.log"

# --- malformed signed garbage does not crash anyone
m='{"not":"a command"}'
xadd m "$m" sig "$(sign "$m" "$(cat "$KEY")")"
xadd sig deadbeef
sleep 0.5
ok=1
for i in 1 2 3 4 5; do kill -0 "${FPID[$i]}" || ok=0; done
check survives_malformed [ $ok = 1 ]
check malformed_counted [ "$(refused 1 malformed)" = 1 ]
done_tests
