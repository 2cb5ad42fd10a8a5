#!/bin/bash
# Encrypted images, encryption side: fwtrust sign --encrypt writes MCUboot's format
# for every key kind (ECIES-X25519 with HMAC-SHA256 and -SHA512, ECIES-P256,
# RSA-OAEP, AES key wrap; AES-128 and AES-256); an independent decrypter written
# from MCUboot's description (tests/interop/enc/decrypt.py, Python cryptography)
# recovers the firmware, the independent verifier accepts the plaintext's
# signature, and fwtrust verify --decrypt-key accepts the image. A fresh key per
# image: two encryptions of the same input differ. --clear, and refusals.
. "$(dirname "$0")/lib.sh"
E="$VEC/enc"
DEC="$SRC/tests/interop/enc/decrypt.py"
V="$SRC/tests/interop/imgtool/verify.py"
"$FWTRUST" keygen --type ed25519 -o "$T/sign.pem"
"$FWTRUST" pubkey "$T/sign.pem" -o "$T/sign.pub.pem"
"$FWTRUST" keygen --type ecdsa-p256 -o "$T/p256.pem"
"$FWTRUST" pubkey "$T/p256.pem" -o "$T/p256.pub.pem"
"$FWTRUST" keygen --type rsa-2048 -o "$T/rsa.pem"
"$FWTRUST" pubkey "$T/rsa.pem" -o "$T/rsa.pub.pem"
COMMON=(--version 1.2.3+4 --header-size 0x200 --pad-header --slot-size 0x80000)

# encryption public key : decryption key : --encrypt-keylen : --hmac-sha : ENC TLV : signing key
CASES="enc-x25519-pub.pem:enc-x25519-priv.pem:128:auto:51:sign
enc-x25519-pub.pem:enc-x25519-priv.pem:256:256:51:sign
enc-x25519-pub.pem:enc-x25519-priv.pem:128:512:52:sign
enc-x25519-priv.pem:enc-x25519-priv.pem:256:512:52:sign
enc-ec256-pub.pem:enc-ec256-priv.pem:128:auto:50:p256
enc-ec256-pub.pem:enc-ec256-priv.pem:256:auto:50:p256
enc-rsa2048-pub.pem:enc-rsa2048-priv.pem:128:auto:48:rsa
enc-rsa2048-pub.pem:enc-rsa2048-priv.pem:256:auto:48:rsa
enc-aes128kw.b64:enc-aes128kw.b64:128:auto:49:sign
enc-aes256kw.b64:enc-aes256kw.b64:256:auto:49:sign"
i=0
for c in $CASES; do
    IFS=: read -r pub priv bits hmac tlv sk <<<"$c"
    i=$((i + 1))
    img="$T/enc$i.bin"
    expect 0 "" "$FWTRUST" sign --key "$T/$sk.pem" "${COMMON[@]}" --encrypt "$E/$pub" \
        --encrypt-keylen "$bits" --hmac-sha "$hmac" "$FW" "$img"
    # independent decryption from the specification, then the independent signature check
    expect 0 "decrypt.py: OK 0x$(printf %02x "$tlv") AES-$bits" "$PY" "$DEC" "$E/$priv" "$img" \
        "$T/plain$i.bin" --expect-payload "$FW"
    expect 0 "OK version 1.2.3+4" "$PY" "$V" "$T/$sk.pub.pem" "$T/plain$i.bin"
    # fwtrust itself: refused without the key, valid with it, and its own decrypt agrees
    expect 27 "encrypted image (AES-$bits-CTR" "$FWTRUST" verify --key "$T/$sk.pub.pem" "$img"
    expect 0 "plaintext decrypted and verified" "$FWTRUST" verify --key "$T/$sk.pub.pem" \
        --decrypt-key "$E/$priv" "$img"
    expect 0 "" "$FWTRUST" decrypt --key "$E/$priv" "$img" "$T/dec$i.bin"
    cmp "$T/dec$i.bin" "$T/plain$i.bin" || fail "case $i: fwtrust decrypt and decrypt.py disagree"
    # the payload on disk is not the firmware
    cmp -s <(tail -c +513 "$img" | head -c 4096) <(head -c 4096 "$FW") &&
        fail "case $i: the payload was written in clear"
done

# A fresh random key per image: two encryptions of the same input differ in the
# key TLV and in every payload block, and decrypt to the same plaintext.
for n in a b; do
    "$FWTRUST" sign --key "$T/sign.pem" "${COMMON[@]}" --encrypt "$E/enc-x25519-pub.pem" "$FW" "$T/twice-$n.bin"
    "$PY" "$DEC" "$E/enc-x25519-priv.pem" "$T/twice-$n.bin" "$T/twice-$n.plain" >/dev/null
done
"$PY" - "$T/twice-a.bin" "$T/twice-b.bin" "$T/twice-a.plain" "$T/twice-b.plain" <<'PYEOF'
import struct, sys
a, b, pa, pb = (open(p, "rb").read() for p in sys.argv[1:5])
hs, ps, isz = struct.unpack_from("<HHI", a, 8)
assert a[:hs] == b[:hs], "headers differ"
blocks = [(a[o:o + 16], b[o:o + 16]) for o in range(hs, hs + isz, 16)]
same = sum(1 for x, y in blocks if x == y)
assert same == 0, "%d of %d ciphertext blocks repeat: key stream reused" % (same, len(blocks))
assert pa[:hs + isz] == pb[:hs + isz], "the plaintexts differ"
print("two encryptions: every one of %d blocks differs" % len(blocks))
PYEOF

# --clear: flag and key TLV, payload in clear; verifies with the key, stored in clear.
expect 0 "" "$FWTRUST" sign --key "$T/sign.pem" "${COMMON[@]}" -E "$E/enc-x25519-pub.pem" -c "$FW" "$T/clear.bin"
cmp -n "$(stat -c %s "$FW")" <(tail -c +513 "$T/clear.bin") "$FW" || fail "--clear encrypted the payload"
expect 0 "payload stored in clear" "$FWTRUST" verify --key "$T/sign.pub.pem" \
    --decrypt-key "$E/enc-x25519-priv.pem" "$T/clear.bin"
expect 1 "" "$PY" "$DEC" "$E/enc-x25519-priv.pem" "$T/clear.bin" "$T/x.bin"

# Padded to the slot: the trailer reserves the two key slots (imgtool's size).
expect 0 "" "$FWTRUST" sign --key "$T/sign.pem" "${COMMON[@]}" --pad --align 8 -E "$E/enc-x25519-pub.pem" "$FW" "$T/pad.bin"
[ "$(stat -c %s "$T/pad.bin")" = $((0x80000)) ] || fail "padded encrypted image size"
expect 0 "" "$FWTRUST" verify --key "$T/sign.pub.pem" --decrypt-key "$E/enc-x25519-priv.pem" "$T/pad.bin"
"$PY" - "$T/pad.bin" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
u = hs + isz + ps
end = u + struct.unpack_from("<H", b, u + 2)[0]
# imgtool: 128 sectors x 3 x align 8, two keys of align_up(16, 8), 4 x 8, magic 16
trailer = 128 * 3 * 8 + 2 * 16 + 4 * 8 + 16
assert all(x == 0xFF for x in b[end:len(b) - 16]), "padding not erased"
assert len(b) - trailer >= end
PYEOF

# A second signer cosigns an encrypted image (the digest of the plaintext); 2-of-2 verifies.
expect 0 "" "$FWTRUST" cosign --key "$T/p256.pem" --no-log -o "$T/co.bin" "$T/enc1.bin"
expect 0 "2 trust anchor(s)" "$FWTRUST" verify --key "$T/sign.pub.pem" --key "$T/p256.pub.pem" \
    --threshold 2 --decrypt-key "$E/enc-x25519-priv.pem" "$T/co.bin"

# Refusals: nothing written.
refuse() { # RC MESSAGE ARGS...
    local rc=$1 msg=$2
    shift 2
    rm -f "$T/r.bin"
    expect "$rc" "$msg" "$FWTRUST" sign --key "$T/sign.pem" "${COMMON[@]}" "$@" "$FW" "$T/r.bin"
    [ ! -e "$T/r.bin" ] || fail "sign wrote output although it failed ($msg)"
}
refuse 1 "X25519 encryption keys only" -E "$E/enc-ec256-pub.pem" --hmac-sha 512
refuse 1 "pure signatures and encryption" -E "$E/enc-x25519-pub.pem" --pure
refuse 1 "--encrypt-keylen: 128 or 256" -E "$E/enc-x25519-pub.pem" --encrypt-keylen 192
refuse 1 "need --encrypt" --clear
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:3072 -out "$T/rsa3072.pem" 2>/dev/null
refuse 7 "RSA-2048 only" -E "$T/rsa3072.pem"
refuse 7 "not an image-encryption key" -E "$T/sign.pub.pem"
echo "encrypt: ok"
