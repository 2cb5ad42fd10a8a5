#!/bin/bash
# Images signed by MCUboot's imgtool verify with their key and no other; our
# signer reproduces imgtool's signed bytes (same digest) for the same inputs.
. "$(dirname "$0")/lib.sh"
DIGEST=727f9d863bfb70cebcc18475528916b2066a7695b4429b79d19437499391df6f
types="ed25519 ecdsa-p256 rsa-3072"
for t in $types; do
    img="$VEC/primehub-v4.0.0b5.$t.signed.bin"
    expect 0 "digest (sha256): $DIGEST" "$FWTRUST" verify --key "$VEC/$t.pub.pem" \
        --min-security-counter 5 "$img"
    for o in $types; do
        [ "$o" = "$t" ] && continue
        expect 24 "not one of the 1 trusted key(s)" "$FWTRUST" verify --key "$VEC/$o.pub.pem" "$img"
    done
    expect 26 "security counter 5 is below the minimum 6" \
        "$FWTRUST" verify --key "$VEC/$t.pub.pem" --min-security-counter 6 "$img"
    "$FWTRUST" inspect --json "$img" >"$T/i.json"
    [ "$(json_field "$T/i.json" 'd["header"]["version"], d["format_version"], d["ok"]')" = "('4.0.0+5', 0, True)" ] ||
        fail "inspect $t: $(cat "$T/i.json")"
done
# Same inputs as the imgtool command in tests/data/vectors/README.md: same signed bytes.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k.pem"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 4.0.0+5 --header-size 0x200 --pad-header \
    --slot-size 0x80000 --security-counter 5 --no-format-tlv "$FW" "$T/ours.bin"
expect 0 "digest (sha256): $DIGEST" "$FWTRUST" verify --key "$T/k.pem" "$T/ours.bin"
n=$((0x200 + $(stat -c %s "$FW") + 12))
cmp -n $n "$T/ours.bin" "$VEC/primehub-v4.0.0b5.ed25519.signed.bin" ||
    fail "header, payload or protected TLVs differ from imgtool's"
echo "vectors: ok"
