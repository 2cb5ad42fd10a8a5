#!/bin/bash
# fwtrust cert issue / inspect: certificates from every root key type verify with
# fwtrust verify --root (the core) and, independently, with Python's cryptography;
# bad input (forged, other hardware, revoked, untrusted root, past expiry) is refused.
. "$SRC/tests/cli/lib.sh"
export FWTRUST_SIGNLOG= # no log for these images
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/signer.pem"
expect 0 "" "$FWTRUST" pubkey "$T/signer.pem" -o "$T/signer.pub"
sign() { # OUT CERT [extra options]
    local out=$1 cert=$2
    shift 2
    expect 0 "" "$FWTRUST" sign --no-log --key "$T/signer.pem" --cert "$cert" --header-size 0x200 \
        --pad-header --version 1.0.0 "$@" "$FW" "$out"
}
# Independent check of a certificate: root signature over SHA-256(tbs), fields as asked.
pycheck() { # CERT ROOT_PEM KEY_VERSION HW_ID
    "$PY" - "$@" <<'PYEOF'
import hashlib, struct, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa, utils
cert = open(sys.argv[1], "rb").read()
root = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None).public_key()
assert cert[:4] == b"FWC1" and cert[4] == 1, "magic"
kv, = struct.unpack_from("<I", cert, 8)
hw_len, key_len = struct.unpack_from("<HH", cert, 52)
assert kv == int(sys.argv[3]), kv
assert cert[56:56 + hw_len] == sys.argv[4].encode(), "hw id"
if isinstance(root, rsa.RSAPublicKey):
    enc = root.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)
else:
    enc = root.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
assert cert[20:52] == hashlib.sha256(enc).digest(), "root key hash"
tbs_len = 56 + hw_len + key_len
sig_len, = struct.unpack_from("<H", cert, tbs_len)
sig = cert[tbs_len + 2:]
assert len(sig) == sig_len
h = hashlib.sha256(cert[:tbs_len]).digest()
if isinstance(root, ed25519.Ed25519PublicKey):
    root.verify(sig, h)
elif isinstance(root, ec.EllipticCurvePublicKey):
    root.verify(sig, h, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
else:
    root.verify(sig, h, padding.PSS(padding.MGF1(hashes.SHA256()), 32), utils.Prehashed(hashes.SHA256()))
PYEOF
}
for rt in ed25519 ecdsa-p256 ecdsa-p384 rsa-2048; do
    expect 0 "" "$FWTRUST" keygen --type $rt -o "$T/root-$rt.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/root-$rt.pem" -o "$T/root-$rt.pub"
    expect 0 "key version:   5" "$FWTRUST" cert issue --root "$T/root-$rt.pem" --key "$T/signer.pub" \
        --key-version 5 --hw-id dev --not-after 2099-12-31 -o "$T/$rt.cert"
    pycheck "$T/$rt.cert" "$T/root-$rt.pem" 5 dev || fail "$rt: the certificate does not verify in Python"
    sign "$T/$rt.bin" "$T/$rt.cert" --hw-id dev
    expect 0 "valid" "$FWTRUST" verify --root "$T/root-$rt.pub" --hw-id dev --min-key-version 5 "$T/$rt.bin"
    expect 30 "below the minimum 6" "$FWTRUST" verify --root "$T/root-$rt.pub" --min-key-version 6 "$T/$rt.bin"
done

# inspect: fields, JSON, and a check against a root.
"$FWTRUST" cert inspect --json "$T/ed25519.cert" >"$T/i.json"
[ "$(json_field "$T/i.json" 'd["key_version"], d["hw_id"], d["key_type"], d["not_after_utc"]')" = \
  "(5, 'dev', 'ecdsa-p256', '2099-12-31T23:59:59Z')" ] || fail "inspect json: $(cat "$T/i.json")"
expect 0 "valid under root" "$FWTRUST" cert inspect --root "$T/root-ed25519.pub" --hw-id dev "$T/ed25519.cert"
expect 29 "not valid under this root" "$FWTRUST" cert inspect --root "$T/root-ecdsa-p256.pub" "$T/ed25519.cert"
expect 29 "" "$FWTRUST" cert inspect --root "$T/root-ed25519.pub" --hw-id other "$T/ed25519.cert"
expect 30 "below the minimum 9" "$FWTRUST" cert inspect --root "$T/root-ed25519.pub" --min-key-version 9 \
    "$T/ed25519.cert"

# Forged: one bit of the key version flipped after signing (tbs offset 8).
cp "$T/ed25519.cert" "$T/forged.cert"
flip "$T/forged.cert" 8
sign "$T/forged.bin" "$T/forged.cert"
expect 29 "certificate signature does not verify" "$FWTRUST" verify --root "$T/root-ed25519.pub" "$T/forged.bin"
# Another hardware id than the device's.
expect 0 "" "$FWTRUST" cert issue --root "$T/root-ed25519.pem" --key "$T/signer.pub" --key-version 5 \
    --hw-id board-x -o "$T/hw.cert"
sign "$T/hw.bin" "$T/hw.cert"
expect 29 "certificate is for hardware 'board-x', not 'dev'" "$FWTRUST" verify --root "$T/root-ed25519.pub" \
    --hw-id dev "$T/hw.bin"
# Expired: fwtrust refuses to issue one; a certificate that has expired is refused by verify.
expect 1 "lies in the past" "$FWTRUST" cert issue --root "$T/root-ed25519.pem" --key "$T/signer.pub" \
    --key-version 5 --not-after 2001-01-01 -o "$T/old.cert"
[ ! -e "$T/old.cert" ] || fail "old.cert written"
"$PY" "$SRC/tests/cli/make_cert.py" "$T/root-ed25519.pem" "$T/signer.pem" "$T/old.cert" --not-after 1
expect 29 "not valid under this root" "$FWTRUST" cert inspect --root "$T/root-ed25519.pub" "$T/old.cert"
# A root the device does not trust.
expect 24 "" "$FWTRUST" verify --root "$T/root-ecdsa-p256.pub" "$T/ed25519.bin"

# Usage errors and bad files leave nothing behind.
expect 1 "needs --root, --key, --key-version and -o" "$FWTRUST" cert issue --root "$T/root-ed25519.pem" \
    --key "$T/signer.pub" -o "$T/x.cert"
expect 1 "--not-after" "$FWTRUST" cert issue --root "$T/root-ed25519.pem" --key "$T/signer.pub" \
    --key-version 1 --not-after 2030-02-30 -o "$T/x.cert"
expect 1 "--hw-id must be 1 to 64 bytes" "$FWTRUST" cert issue --root "$T/root-ed25519.pem" \
    --key "$T/signer.pub" --key-version 1 --hw-id "$(printf 'x%.0s' {1..65})" -o "$T/x.cert"
expect 7 "nope.pem" "$FWTRUST" cert issue --root "$T/nope.pem" --key "$T/signer.pub" --key-version 1 -o "$T/x.cert"
expect 7 "" "$FWTRUST" cert issue --root "$T/signer.pub" --key "$T/signer.pub" --key-version 1 -o "$T/x.cert"
[ ! -e "$T/x.cert" ] || fail "x.cert written"
head -c 80 /dev/urandom >"$T/junk.cert"
expect 20 "not a valid boot-key certificate" "$FWTRUST" cert inspect "$T/junk.cert"
# Published sample keys are refused unless allowed.
SAMPLE=$(ls "$SRC"/tests/data/sample-keys/*ed25519*.pem 2>/dev/null | head -n 1 || true)
if [ -n "$SAMPLE" ]; then
    expect 32 "published sample key" "$FWTRUST" cert issue --root "$SAMPLE" --key "$T/signer.pub" \
        --key-version 1 -o "$T/x.cert"
    expect 0 "" "$FWTRUST" cert issue --root "$SAMPLE" --key "$T/signer.pub" --key-version 1 \
        --allow-test-key -o "$T/x.cert"
fi
"$FWTRUST" cert issue --json --root "$T/root-ed25519.pem" --key "$T/signer.pub" --key-version 2 \
    -o "$T/j.cert" >"$T/j.json"
[ "$(json_field "$T/j.json" 'd["ok"], d["key_version"], d["hw_id"]')" = "(True, 2, None)" ] ||
    fail "issue json: $(cat "$T/j.json")"
echo "keys cert: ok"
