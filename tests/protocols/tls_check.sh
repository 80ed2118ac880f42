#!/usr/bin/env bash
# The TLS keys of a profile under `faultline check`: a missing or unreadable certificate or key, a
# key that does not match its certificate, an expired certificate, keys that need another key,
# values out of place -- each exit 2 with PATH:LINE: key: reason; `faultline ca init` arguments.
cd "$(dirname "$0")/../.."
source tests/lib.sh
source tests/protocols/tls_lib.bash

mk_cert "$TT/a"
mk_cert "$TT/b"
mk_expired "$TT/old"
"$FL" ca init "$TT/ca" >/dev/null
echo "not a certificate" >"$TT/junk.pem"
# expect_err NAME LINE KEY PATTERN [KEY=VALUE...]: a profile with one http proxy and the given keys
# (the first at line 6) fails `check` with exit 2 naming the line, the key and the pattern
expect_err() {
    local name=$1 line=$2 key=$3 pat=$4 out rc
    shift 4
    { printf '[faultline]\nadmin = off\n'; px web 18080 127.0.0.1:18081 mode=http "$@"; } >"$TT/$name.ini"
    out=$("$FL" check "$TT/$name.ini" 2>&1); rc=$?
    if [ $rc -eq 2 ] && grep -q "^$TT/$name.ini:$line: $key: .*$pat" <<<"$out"; then pass "$name"; else fail "$name" "rc=$rc $out"; fi
}
expect_err missing_cert 8 tls_cert "cannot read $TT/nope.pem" tls=terminate "tls_cert=$TT/nope.pem" "tls_key=$TT/a/key.pem"
expect_err junk_cert 8 tls_cert "holds no PEM certificate" tls=terminate "tls_cert=$TT/junk.pem" "tls_key=$TT/a/key.pem"
expect_err missing_key 9 tls_key "cannot read $TT/nokey.pem" tls=terminate "tls_cert=$TT/a/cert.pem" "tls_key=$TT/nokey.pem"
# a key that exists but cannot be read (mode 000, checked by an unprivileged user: root reads
# anything) -- in a directory of its own that the user may enter
mkdir -p "$TT/u"
cp "$TT/a/cert.pem" "$TT/a/key.pem" "$TT/u/"
chmod 000 "$TT/u/key.pem"
chmod 711 "$TT"; chmod 755 "$TT/u"; chmod 644 "$TT/u/cert.pem"
{ printf '[faultline]\nadmin = off\n'; px web 18080 127.0.0.1:18081 mode=http tls=terminate "tls_cert=$TT/u/cert.pem" "tls_key=$TT/u/key.pem"; } >"$TT/u/p.ini"
chmod 644 "$TT/u/p.ini"
out=$(runuser -u nobody -- "$FL" check "$TT/u/p.ini" 2>&1); rc=$?
check unreadable_key eval '[ $rc = 2 ] && grep -q "^$TT/u/p.ini:9: tls_key: cannot read $TT/u/key.pem: Permission denied" <<<"$out"' || echo "# $out"
chmod 700 "$TT"
expect_err dir_as_key 9 tls_key "no PEM private key" tls=terminate "tls_cert=$TT/a/cert.pem" "tls_key=$TT"
expect_err key_mismatch 9 tls_key "does not match" tls=terminate "tls_cert=$TT/a/cert.pem" "tls_key=$TT/b/key.pem"
expect_err expired_cert 8 tls_cert "expired" tls=terminate "tls_cert=$TT/old/cert.pem" "tls_key=$TT/old/key.pem"
expect_err cert_needs_terminate 7 tls_cert "needs tls = terminate" "tls_cert=$TT/a/cert.pem" "tls_key=$TT/a/key.pem"
expect_err terminate_needs_cert 7 tls "terminate needs tls_cert and tls_key, or tls_ca" tls=terminate
expect_err cert_needs_key 8 tls_cert "needs tls_key" tls=terminate "tls_cert=$TT/a/cert.pem"
expect_err ca_and_cert 9 tls_ca "either" tls=terminate "tls_cert=$TT/a/cert.pem" "tls_ca=$TT/ca" "tls_key=$TT/a/key.pem"
expect_err ca_missing 8 tls_ca "cannot read $TT/noca/ca.crt" tls=terminate "tls_ca=$TT/noca"
expect_err bad_alpn 9 tls_alpn "not a list" tls=terminate "tls_ca=$TT/ca" "tls_alpn=,,,"
expect_err bad_hs_timeout 9 tls_handshake_timeout "" tls=terminate "tls_ca=$TT/ca" "tls_handshake_timeout=fast"
expect_err sni_needs_upstream_tls 7 upstream_sni "needs upstream_tls = on" "upstream_sni=api.test"
expect_err bad_sni 8 upstream_sni "not a DNS name" upstream_tls=on "upstream_sni=a b"
expect_err up_ca_missing 8 upstream_ca "cannot read" upstream_tls=on "upstream_ca=$TT/none.pem"
expect_err up_ca_junk 8 upstream_ca "no PEM certificate" upstream_tls=on "upstream_ca=$TT/junk.pem"
expect_err up_key_mismatch 9 upstream_key "does not match" upstream_tls=on "upstream_cert=$TT/a/cert.pem" "upstream_key=$TT/b/key.pem" 
expect_err up_cert_expired 8 upstream_cert "expired" upstream_tls=on "upstream_cert=$TT/old/cert.pem" "upstream_key=$TT/old/key.pem"
expect_err passthrough_not_http 7 tls "applies to protocols that ask" tls=passthrough
expect_err bad_tls_value 7 tls "is not terminate or off" tls=yes
# a good profile passes
{ printf '[faultline]\nadmin = off\n'; px web 18080 127.0.0.1:18081 mode=http tls=terminate "tls_cert=$TT/a/cert.pem" \
    "tls_key=$TT/a/key.pem" upstream_tls=on "upstream_ca=$TT/a/cert.pem"; } >"$TT/good.ini"
check good_profile eval '"$FL" check "$TT/good.ini" >/dev/null'
{ printf '[faultline]\nadmin = off\n'; px db 18082 127.0.0.1:5432 mode=postgres tls=passthrough upstream_tls=on; } >"$TT/pt.ini"
out=$("$FL" check "$TT/pt.ini" 2>&1)
check pg_passthrough_and_upstream_tls grep -q "pt.ini:8: upstream_tls: tls = passthrough" <<<"$out"
# ca init
out=$("$FL" ca init "$TT/ca2" --domain 'bad domain' 2>&1); rc=$?
check ca_init_bad_domain eval '[ $rc -ne 0 ] && grep -q "is not a DNS name" <<<"$out"'
out=$("$FL" ca init "$TT/ca3" --domain 10.0.0.0/8 --domain svc.test 2>&1)
check ca_init_cidr eval 'openssl x509 -in "$TT/ca3/ca.crt" -noout -text | grep -q "IP:10.0.0.0/255.0.0.0"'
out=$("$FL" ca init "$TT/ca" --force 2>&1)
check ca_init_force grep -q "CA written" <<<"$out"
check ca_help eval '"$FL" ca --help | grep -q "usage: faultline ca init"'
chmod 644 "$TT/ca/ca.key"
{ printf '[faultline]\nadmin = off\n'; px web 18080 127.0.0.1:18081 mode=http tls=terminate "tls_ca=$TT/ca"; } >"$TT/mode.ini"
out=$("$FL" check "$TT/mode.ini" 2>&1)
check ca_key_mode_warned grep -q "tls_ca_key_mode" <<<"$out"
done_tests
