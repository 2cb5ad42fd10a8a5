#!/bin/bash
# Boot-key certificates: sign --cert embeds one before the certified key's
# signature; verify --root accepts it, and refuses revoked, expired, forged and
# other-hardware certificates. Certificates are made by make_cert.py (Python
# cryptography), so this does not depend on fwtrust's own issuer.
. "$(dirname "$0")/lib.sh"
MC="$(dirname "$0")/make_cert.py"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/root.pem"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/root2.pem"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/signer.pem"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/other.pem"
expect 0 "" "$FWTRUST" pubkey "$T/root.pem" -o "$T/root.pub"
"$PY" "$MC" "$T/root.pem" "$T/signer.pem" "$T/c3.cert" --key-version 3 --hw-id dev
sign() { # OUT CERT [extra options]
    local out=$1 cert=$2
    shift 2
    expect 0 "" "$FWTRUST" sign --key "$T/signer.pem" --cert "$cert" --header-size 0x200 \
        --pad-header --hw-id dev "$@" "$FW" "$out"
}
sign "$T/img.bin" "$T/c3.cert"
"$FWTRUST" inspect --json "$T/img.bin" >"$T/i.json"
[ "$(json_field "$T/i.json" '[t["name"] for t in d["tlvs"] if t["area"] == "unprotected"]')" = \
  "['SHA256', 'FWT_CERT', 'KEYHASH', 'ECDSA_SIG']" ] || fail "TLV order: $(cat "$T/i.json")"
[ "$(json_field "$T/i.json" '[t["certificate"]["key_version"] for t in d["tlvs"] if "certificate" in t]')" = "[3]" ] ||
    fail "inspect does not decode the certificate"

"$FWTRUST" verify --json --root "$T/root.pub" --hw-id dev "$T/img.bin" >"$T/v.json" ||
    fail "valid certificate refused: $(cat "$T/v.json")"
[ "$(json_field "$T/v.json" 'd["ok"], d["key_version"]')" = "(True, 3)" ] || fail "verify json: $(cat "$T/v.json")"
expect 0 "" "$FWTRUST" verify --root "$T/root.pub" --min-key-version 3 "$T/img.bin"
expect 30 "certificate key version 3 is below the minimum 4 (revoked)" "$FWTRUST" verify \
    --root "$T/root.pub" --min-key-version 4 "$T/img.bin"

# Expired (not_after = 1970-01-01T00:00:01), forged, and for other hardware: 29.
"$PY" "$MC" "$T/root.pem" "$T/signer.pem" "$T/old.cert" --not-after 1
sign "$T/old.bin" "$T/old.cert"
expect 29 "certificate expired (not after 1," "$FWTRUST" verify --root "$T/root.pub" "$T/old.bin"
"$PY" "$MC" "$T/root.pem" "$T/signer.pem" "$T/bad.cert" --corrupt-sig
sign "$T/bad.bin" "$T/bad.cert"
expect 29 "certificate signature does not verify" "$FWTRUST" verify --root "$T/root.pub" "$T/bad.bin"
"$PY" "$MC" "$T/root.pem" "$T/signer.pem" "$T/hw.cert" --hw-id board-x
sign "$T/hw.bin" "$T/hw.cert"
expect 29 "certificate is for hardware 'board-x', not 'dev'" "$FWTRUST" verify \
    --root "$T/root.pub" --hw-id dev "$T/hw.bin"

# A certificate from a root the device does not trust is no trust at all.
rc=0
"$FWTRUST" verify --root "$T/root2.pem" "$T/img.bin" 2>/dev/null || rc=$?
[ $rc = 24 ] || fail "untrusted root: exit $rc, expected 24 (unknown key)"
# The signing key alone (as --key) still verifies the plain signature.
expect 0 "" "$FWTRUST" verify --key "$T/signer.pem" "$T/img.bin"

# sign refuses a certificate that certifies none of its keys, and garbage.
expect 29 "certifies none of the --key keys" "$FWTRUST" sign --key "$T/other.pem" \
    --cert "$T/c3.cert" --header-size 0x200 --pad-header "$FW" "$T/x.bin"
head -c 100 /dev/urandom >"$T/junk.cert"
expect 29 "not a boot-key certificate" "$FWTRUST" sign --key "$T/signer.pem" \
    --cert "$T/junk.cert" --header-size 0x200 --pad-header "$FW" "$T/x.bin"
[ ! -e "$T/x.bin" ] || fail "x.bin written"
echo "cert: ok"
