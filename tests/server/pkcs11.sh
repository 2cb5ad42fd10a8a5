#!/bin/bash
# The fleet CA key in a PKCS#11 token (SoftHSM2 made here): init makes the CA
# certificate with the token key, the server issues device certificates and signs
# the CRL with it; each chains to the CA (checked by openssl); a URI naming its own
# module is refused; the CA key never lies in the server directory.
. "$(dirname "$0")/lib.sh"
MODULE=/usr/lib/softhsm/libsofthsm2.so
[ -e "$MODULE" ] || { echo "SKIP: $MODULE missing (softhsm2)"; exit 77; }
export SOFTHSM2_CONF="$T/softhsm2.conf" FWTRUST_PKCS11_MODULE="$MODULE"
mkdir "$T/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/tokens" >"$SOFTHSM2_CONF"
softhsm2-util --init-token --free --label fleet-ca --pin 1111 --so-pin 2222 >/dev/null
printf '1111\n' >"$T/pin"
URI="pkcs11:token=fleet-ca;object=ca"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$URI" --pin-file "$T/pin"

expect 1 "module" "$SERVER" init "$T/bad" --ca-key "$URI;module-path=/tmp/x.so" --ca-pin-file "$T/pin"
[ ! -e "$T/bad" ] || fail "a refused init left a directory"
rc=0; "$SERVER" init "$T/bad" --ca-key "pkcs11:token=fleet-ca;object=nothing" --ca-pin-file "$T/pin" >/dev/null 2>&1 || rc=$?
[ "$rc" != 0 ] && [ ! -e "$T/bad" ] || fail "init with a missing token key: exit $rc, directory left: $(ls "$T/bad" 2>&1)"
expect 0 "" "$SERVER" init "$D" --ca-key "$URI" --ca-pin-file "$T/pin"
[ ! -e "$D/ca/ca.key" ] || fail "a CA key file was written although the key is in the token"
grep -q '"ca_key": "pkcs11:token=fleet-ca;object=ca"' "$D/server.json" || fail "server.json: $(cat "$D/server.json")"
openssl verify -CAfile "$CA" "$CA" >/dev/null || fail "CA certificate"
# its key is the token's
"$FWTRUST" pubkey "$URI" --pin-file "$T/pin" --format pem >"$T/token.pub" 2>/dev/null ||
    "$FWTRUST" pubkey "$URI" --pin-file "$T/pin" >"$T/token.pub"
openssl x509 -in "$CA" -noout -pubkey >"$T/ca.pub"
cmp -s <(openssl pkey -pubin -in "$T/token.pub" -outform der) <(openssl pkey -pubin -in "$T/ca.pub" -outform der) ||
    fail "the CA certificate does not certify the token key"
openssl verify -CAfile "$CA" "$D/ca/server.pem" >/dev/null || fail "server certificate"
srv_start
sim 200 "$T/e" enroll "$U" "$CA" "$(token)" board "SN-1" "$T/d1"
openssl verify -CAfile "$CA" "$T/d1/cert.pem" >/dev/null || fail "device certificate"
sim 200 "$T/c" checkin "$U" "$CA" "$T/d1"
"$SERVER" --dir "$D" device revoke "$(cat "$T/d1/id")" >/dev/null
openssl crl -in "$D/ca/crl.pem" -CAfile "$CA" -noout 2>&1 | grep -q "verify OK" || fail "CRL not signed by the CA"
# a wrong PIN: the server does not start
printf '9999\n' >"$T/pin"
srv_stop
expect 7 "" "$SERVER" --dir "$D" device list
echo "server pkcs11: ok"
