#!/bin/bash
# Our signed images follow imgtool's rules: an independent verifier
# (tests/interop/imgtool/verify.py, Python cryptography) accepts them for every
# key type and option mix, and rejects them with other keys or when tampered.
. "$(dirname "$0")/lib.sh"
V="$SRC/tests/interop/imgtool/verify.py"
"$PY" -c 'import cryptography' || fail "python3-cryptography missing (scripts/install-deps)"
# verify.py itself agrees with imgtool on imgtool's own images.
for t in ed25519 ecdsa-p256 rsa-3072; do
    expect 0 "OK version 4.0.0+5 digest 727f9d86" "$PY" "$V" "$VEC/$t.pub.pem" \
        "$VEC/primehub-v4.0.0b5.$t.signed.bin"
done
expect 1 "no signature by this key" "$PY" "$V" "$VEC/ed25519.pub.pem" "$VEC/primehub-v4.0.0b5.rsa-3072.signed.bin"
for t in ed25519 ecdsa-p256 ecdsa-p384 rsa-2048 rsa-3072; do
    expect 0 "" "$FWTRUST" keygen --type $t -o "$T/$t.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$t.pem" -o "$T/$t.pub"
    expect 0 "" "$FWTRUST" sign --key "$T/$t.pem" --version 1.2.3+4 --header-size 0x200 \
        --pad-header --security-counter auto --hw-id dev "$FW" "$T/$t.bin"
    expect 0 "OK version 1.2.3+4" "$PY" "$V" "$T/$t.pub" "$T/$t.bin"
    # Padded with trailer, header not padded (input starts with zeros), PUBKEY TLV.
    { head -c 32 /dev/zero; cat "$FW"; } >"$T/z.bin"
    expect 0 "" "$FWTRUST" sign --key "$T/$t.pem" --header-size 32 --slot-size 0x60000 --confirm \
        --public-key-format full "$T/z.bin" "$T/$t.pad.bin"
    expect 0 "OK" "$PY" "$V" "$T/$t.pub" "$T/$t.pad.bin"
done
expect 1 "no signature by this key" "$PY" "$V" "$T/ed25519.pub" "$T/rsa-2048.bin"
# Two signatures (ed25519 then ecdsa-p256): each verifies alone.
expect 0 "" "$FWTRUST" sign --key "$T/ed25519.pem" --key "$T/ecdsa-p256.pem" --header-size 0x200 \
    --pad-header "$FW" "$T/two.bin"
expect 0 "OK" "$PY" "$V" "$T/ed25519.pub" "$T/two.bin"
expect 0 "OK" "$PY" "$V" "$T/ecdsa-p256.pub" "$T/two.bin"
# Pure Ed25519.
expect 0 "" "$FWTRUST" sign --key "$T/ed25519.pem" --pure --header-size 0x200 --pad-header \
    "$FW" "$T/pure.bin"
expect 0 "(pure)" "$PY" "$V" "$T/ed25519.pub" "$T/pure.bin"
# Tampered: refused by the independent verifier too.
cp "$T/ecdsa-p256.bin" "$T/bad.bin"
flip "$T/bad.bin" 5000
expect 1 "digest mismatch" "$PY" "$V" "$T/ecdsa-p256.pub" "$T/bad.bin"
echo "interop imgtool: ok"
