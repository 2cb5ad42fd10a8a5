#!/bin/bash
# Encrypted images (MCUboot's scheme), decryption side: every imgtool-encrypted
# vector (tests/data/vectors/enc/README.md) decrypts to the firmware and verifies
# over its plaintext; an encrypted image is refused without the key; a wrong key,
# an altered HMAC tag, a truncated key TLV, a missing key TLV and an altered
# ciphertext are each refused, with nothing written.
. "$(dirname "$0")/lib.sh"
E="$VEC/enc"
FWLEN=$(stat -c %s "$FW")

# name:signing key:encryption key:ENC TLV:AES bits
VECTORS="ed25519-x25519-aes128:ed25519:x25519:51:128
ed25519-x25519-aes256:ed25519:x25519:51:256
ed25519-x25519-clear:ed25519:x25519:51:128
p256-ec256-aes128:ec-p256:ec256:50:128
rsa2048-rsaoaep-aes128:rsa-2048:rsa2048:48:128"

for v in $VECTORS; do
    IFS=: read -r n sk ek tlv bits <<<"$v"
    img="$E/$n.bin"
    "$FWTRUST" pubkey "$E/root-$sk.pem" -o "$T/$sk.pub.pem"
    # Without the decryption key: refused, and the message says why.
    expect 27 "encrypted image (AES-$bits-CTR" "$FWTRUST" verify --key "$T/$sk.pub.pem" "$img"
    # With it: valid over the plaintext.
    expect 0 "valid, version 4.0.0+5" "$FWTRUST" verify --key "$T/$sk.pub.pem" \
        --decrypt-key "$E/enc-$ek-priv.pem" "$img"
    "$FWTRUST" verify --json --key "$T/$sk.pub.pem" --decrypt-key "$E/enc-$ek-priv.pem" "$img" \
        >"$T/v.json" || fail "$n: verify --json"
    clear=False
    [ "$n" = ed25519-x25519-clear ] && clear=True
    [ "$(json_field "$T/v.json" 'd["encrypted"], d["aes_bits"], d["enc_tlv"], d["stored_in_clear"]')" = \
        "(True, $bits, $tlv, $clear)" ] || fail "$n: verify --json: $(cat "$T/v.json")"
    # Another signing key: still refused after decryption.
    expect 24 "" "$FWTRUST" verify --key "$VEC/ed25519.pub.pem" --decrypt-key "$E/enc-$ek-priv.pem" "$img"
    # The payload is the firmware, then imgtool's zero padding to 16 bytes.
    expect 0 "decrypted (AES-$bits-CTR" "$FWTRUST" decrypt --key "$E/enc-$ek-priv.pem" --payload \
        "$img" "$T/$n.payload"
    cmp -n "$FWLEN" "$T/$n.payload" "$FW" || fail "$n: decrypted payload differs from the firmware"
    [ "$(tail -c +$((FWLEN + 1)) "$T/$n.payload" | od -An -tx1 | tr -d ' \n')" = "000000000000000000000000" ] ||
        fail "$n: padding after the firmware is not 12 zeros"
    # The whole image decrypted (as MCUboot leaves it in the primary slot) still verifies.
    expect 0 "" "$FWTRUST" decrypt --key "$E/enc-$ek-priv.pem" "$img" "$T/$n.dec"
    expect 0 "payload stored in clear" "$FWTRUST" verify --key "$T/$sk.pub.pem" \
        --decrypt-key "$E/enc-$ek-priv.pem" "$T/$n.dec"
    [ "$(stat -c %s "$T/$n.dec")" = "$(stat -c %s "$img")" ] || fail "$n: decrypted image size"
    # The independent decrypter (tests/interop/enc/decrypt.py) agrees, except on --clear.
    if [ "$n" != ed25519-x25519-clear ]; then
        expect 0 "decrypt.py: OK" "$PY" "$SRC/tests/interop/enc/decrypt.py" "$E/enc-$ek-priv.pem" "$img" \
            "$T/$n.py.bin" --expect-payload "$FW"
        cmp "$T/$n.py.bin" "$T/$n.dec" || fail "$n: fwtrust decrypt and decrypt.py disagree"
    fi
    # inspect decodes the key TLV.
    "$FWTRUST" inspect --json "$img" >"$T/i.json" || fail "$n: inspect"
    [ "$(json_field "$T/i.json" '[t["area"] for t in d["tlvs"] if t["type"] == '"$tlv"']')" = "['unprotected']" ] ||
        fail "$n: inspect does not show the ENC TLV: $(cat "$T/i.json")"
done
"$FWTRUST" decrypt --json --key "$E/enc-x25519-priv.pem" "$E/ed25519-x25519-clear.bin" "$T/c.bin" >"$T/d.json"
[ "$(json_field "$T/d.json" 'd["stored_in_clear"], d["key_type"]')" = "(True, 'X25519')" ] ||
    fail "decrypt --json of the --clear image: $(cat "$T/d.json")"
cmp "$T/c.bin" "$E/ed25519-x25519-clear.bin" || fail "decrypting a --clear image must copy it"

# ---- refusals: each one writes nothing ----
X="$E/ed25519-x25519-aes128.bin"
"$FWTRUST" pubkey "$E/root-ed25519.pem" -o "$T/ed.pub.pem"
refused() { # RC MESSAGE IMAGE DECRYPTION-KEY
    rm -f "$T/out.bin"
    expect "$1" "$2" "$FWTRUST" decrypt --key "$4" "$3" "$T/out.bin"
    [ ! -e "$T/out.bin" ] || fail "decrypt wrote $T/out.bin although it failed ($2)"
    ls "$T" | grep -q 'out.bin.tmp' && fail "decrypt left a temporary file"
    expect "$1" "" "$FWTRUST" verify --key "$T/ed.pub.pem" --decrypt-key "$4" "$3"
}
# A wrong key of the right type, a key of another type, the public key only.
openssl genpkey -algorithm X25519 -out "$T/other-x25519.pem" 2>/dev/null
refused 7 "HMAC tag mismatch" "$X" "$T/other-x25519.pem"
refused 7 "which the EC P-256 key given cannot open" "$X" "$E/enc-ec256-priv.pem"
refused 7 "needs the private X25519 key" "$X" "$E/enc-x25519-pub.pem"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other-rsa.pem" 2>/dev/null
rm -f "$T/out.bin"
expect 7 "RSA-OAEP decryption failed" "$FWTRUST" decrypt --key "$T/other-rsa.pem" \
    "$E/rsa2048-rsaoaep-aes128.bin" "$T/out.bin"
[ ! -e "$T/out.bin" ] || fail "decrypt wrote output with a wrong RSA key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/other-p256.pem" 2>/dev/null
refused 7 "HMAC tag mismatch" "$E/p256-ec256-aes128.bin" "$T/other-p256.pem"

# Doctored copies of the X25519 image: tag changed, TLV truncated by one byte,
# TLV removed, one ciphertext byte changed, ephemeral key changed.
"$PY" - "$X" "$T" <<'PYEOF'
import struct, sys
src, t = sys.argv[1], sys.argv[2]
b = bytes(open(src, "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
u = hs + isz + ps
magic, tot = struct.unpack_from("<HH", b, u)
p, enc = u + 4, None
while p < u + tot:
    typ, ln = struct.unpack_from("<HH", b, p)
    if typ == 0x33:
        enc = (p, ln)
    p += 4 + ln
assert enc and enc[0] + 4 + enc[1] == u + tot, "ENC TLV expected last"
ep, el = enc
def save(name, d):
    open(f"{t}/{name}", "wb").write(d)
tag = bytearray(b); tag[ep + 4 + 32 + 5] ^= 1; save("tag.bin", tag)
eph = bytearray(b); eph[ep + 4 + 3] ^= 1; save("eph.bin", eph)
tr = bytearray(b[:ep + 4 + el - 1]); struct.pack_into("<HH", tr, ep, 0x33, el - 1)
struct.pack_into("<HH", tr, u, magic, tot - 1); save("trunc.bin", tr)
no = bytearray(b[:ep]); struct.pack_into("<HH", no, u, magic, tot - 4 - el); save("nokey.bin", no)
ct = bytearray(b); ct[hs + 1000] ^= 0x40; save("ct.bin", ct)
PYEOF
refused 7 "HMAC tag mismatch" "$T/tag.bin" "$E/enc-x25519-priv.pem"
refused 7 "" "$T/eph.bin" "$E/enc-x25519-priv.pem"
refused 20 "exactly one ENC_* TLV" "$T/trunc.bin" "$E/enc-x25519-priv.pem"
refused 20 "exactly one ENC_* TLV" "$T/nokey.bin" "$E/enc-x25519-priv.pem"
refused 21 "does not match the image's hash" "$T/ct.bin" "$E/enc-x25519-priv.pem"
expect 20 "" "$FWTRUST" verify --key "$T/ed.pub.pem" "$T/nokey.bin"
# A plain image is not something to decrypt.
refused_plain() {
    rm -f "$T/out.bin"
    expect 1 "not encrypted" "$FWTRUST" decrypt --key "$E/enc-x25519-priv.pem" "$1" "$T/out.bin"
    [ ! -e "$T/out.bin" ] || fail "decrypt of a plain image wrote output"
}
refused_plain "$VEC/primehub-v4.0.0b5.ed25519.signed.bin"
# Not a key at all.
echo "not a key" >"$T/junk.key"
expect 7 "neither a PEM key nor the base64" "$FWTRUST" decrypt --key "$T/junk.key" "$X" "$T/out.bin"
expect 1 "--key PRIV is required" "$FWTRUST" decrypt "$X" "$T/out.bin"
echo "encrypted: ok"
