#!/bin/bash
# Separation of duties: signatures from K distinct trust anchors (fwtrust verify
# --threshold), added one by one with fwtrust cosign on different "machines"
# without touching the signed bytes; the same key twice counts once, and a
# root counts once however many keys it certified (pitfall 17).
. "$SRC/tests/cli/lib.sh"
export FWTRUST_SIGNLOG=
for k in a b c; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/d.pem"
expect 0 "" "$FWTRUST" sign --no-log --key "$T/a.pem" --version 2.0.0 --header-size 0x200 --pad-header \
    --security-counter 3 "$FW" "$T/img.bin"
trusted=(--key "$T/a.pub" --key "$T/b.pub" --key "$T/c.pub")
expect 28 "" "$FWTRUST" verify "${trusted[@]}" --threshold 2 "$T/img.bin"
"$FWTRUST" inspect --json "$T/img.bin" >"$T/before.json"

# Holder b cosigns into a new file: the input stays as it was.
cp "$T/img.bin" "$T/img.orig"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/b.pem" "$T/img.bin" -o "$T/img2.bin"
cmp -s "$T/img.bin" "$T/img.orig" || fail "cosign -o changed its input"
expect 0 "2 signature(s)" "$FWTRUST" verify "${trusted[@]}" --threshold 2 "$T/img2.bin"
expect 28 "" "$FWTRUST" verify "${trusted[@]}" --threshold 3 "$T/img2.bin"
# Holder c cosigns in place; an ECDSA key (another TLV type) can join too.
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/c.pem" "$T/img2.bin"
expect 0 "3 signature(s)" "$FWTRUST" verify "${trusted[@]}" --threshold 3 "$T/img2.bin"
"$FWTRUST" inspect --json "$T/img2.bin" >"$T/after.json"
# The signed bytes and the digest did not change.
digest='[t["value"] for t in d["tlvs"] if t["name"] == "SHA256"]'
[ "$(json_field "$T/before.json" "$digest")" = "$(json_field "$T/after.json" "$digest")" ] ||
    fail "cosign changed the digest"
end=$(json_field "$T/before.json" 'd["header"]["hdr_size"] + d["header"]["img_size"] + d["header"]["prot_tlv_size"]')
cmp -s -n "$end" "$T/img.orig" "$T/img2.bin" || fail "cosign changed the first $end (signed) bytes"

# The same key twice: cosign refuses it, and a second signature by one key counts once.
expect 1 "already signed by this key" "$FWTRUST" cosign --no-log --key "$T/a.pem" "$T/img2.bin"
"$PY" - "$T/img2.bin" "$T/dup.bin" <<'PYEOF'
# Append a copy of the first KEYHASH+ED25519 pair of the unprotected area (same key, same signature).
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hdr_size, = struct.unpack_from("<H", b, 8)
prot, = struct.unpack_from("<H", b, 10)
img_size, = struct.unpack_from("<I", b, 12)
off = hdr_size + img_size + prot
magic, size = struct.unpack_from("<HH", b, off)
assert magic == 0x6907
p, end, pair = off + 4, off + size, None
while p < end:
    t, l = struct.unpack_from("<HH", b, p)
    if t == 0x01 and pair is None:
        k = bytes(b[p:p + 4 + l])
        t2, l2 = struct.unpack_from("<HH", b, p + 4 + l)
        pair = k + bytes(b[p + 4 + l:p + 8 + l + l2])
    p += 4 + l
assert pair
b[off + 2:off + 4] = struct.pack("<H", size + len(pair))
b[end:end] = pair
open(sys.argv[2], "wb").write(b)
PYEOF
"$FWTRUST" verify --json "${trusted[@]}" --threshold 3 "$T/dup.bin" >"$T/dup.json" || fail "dup.bin: $(cat "$T/dup.json")"
[ "$(json_field "$T/dup.json" 'len(d["signers"])')" = 3 ] || fail "a repeated signature counted twice"
"$PY" - "$T/img.bin" "$T/dup1.bin" <<'PYEOF'
import struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hdr_size, = struct.unpack_from("<H", b, 8)
prot, = struct.unpack_from("<H", b, 10)
img_size, = struct.unpack_from("<I", b, 12)
off = hdr_size + img_size + prot
magic, size = struct.unpack_from("<HH", b, off)
p, end, pair = off + 4, off + size, None
while p < end:
    t, l = struct.unpack_from("<HH", b, p)
    if t == 0x01:
        t2, l2 = struct.unpack_from("<HH", b, p + 4 + l)
        pair = bytes(b[p:p + 8 + l + l2])
    p += 4 + l
b[off + 2:off + 4] = struct.pack("<H", size + len(pair))
b[end:end] = pair
open(sys.argv[2], "wb").write(b)
PYEOF
# dup1: a's signature twice and nothing else: one distinct key, threshold 2 not met.
expect 28 "" "$FWTRUST" verify "${trusted[@]}" --threshold 2 "$T/dup1.bin"
expect 0 "" "$FWTRUST" verify "${trusted[@]}" --threshold 1 "$T/dup1.bin"
# Listing one trusted key twice does not make a threshold either.
rc=0
"$FWTRUST" verify --key "$T/a.pub" --key "$T/a.pub" --threshold 2 "$T/dup1.bin" >/dev/null 2>&1 || rc=$?
[ $rc != 0 ] || fail "one key listed twice met a threshold of 2"

# Listing one key twice is refused outright (one key is one anchor), at any threshold,
# also as a --key and a --root.
expect 1 "the same public key given twice" "$FWTRUST" verify --key "$T/a.pub" --key "$T/a.pem" \
    --threshold 1 "$T/dup1.bin"
expect 1 "the same public key given twice" "$FWTRUST" verify --key "$T/a.pub" --root "$T/a.pub" \
    "$T/dup1.bin"

# Pitfall 17: the threshold counts trust anchors (each --key, each --root), never the keys
# a root certified: a root can mint any number of keys, and is still one vote.
for k in r1 r2 s1 s2; do
    expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/$k.pem"
    expect 0 "" "$FWTRUST" pubkey "$T/$k.pem" -o "$T/$k.pub"
done
cert() { # ROOT KEY OUT
    expect 0 "" "$FWTRUST" cert issue --root "$T/$1.pem" --key "$T/$2.pub" --key-version 1 -o "$T/$3"
}
cert r1 s1 s1r1.cert
cert r1 s2 s2r1.cert
cert r2 s2 s2r2.cert
cert r1 a ar1.cert
signc() { # OUT KEY CERT|- [KEY CERT|-]...
    local out=$1 first=1
    shift
    while [ $# -ge 2 ]; do
        local c=()
        [ "$2" = - ] || c=(--cert "$T/$2")
        if [ $first = 1 ]; then
            expect 0 "" "$FWTRUST" sign --no-log --key "$T/$1.pem" "${c[@]}" --version 3.0.0 \
                --header-size 0x200 --pad-header "$FW" "$T/$out"
            first=0
        else
            expect 0 "" "$FWTRUST" cosign --no-log --key "$T/$1.pem" "${c[@]}" "$T/$out"
        fi
        shift 2
    done
}
signc r1x2.bin s1 s1r1.cert s2 s2r1.cert # two keys, both certified by r1
# --key K1 --root R1 --threshold 2: R1's two keys without K1 are one anchor
expect 28 "valid signatures from 1 distinct trust anchor(s) (2 signing key(s)" \
    "$FWTRUST" verify --key "$T/a.pub" --root "$T/r1.pub" --threshold 2 "$T/r1x2.bin"
# --root R1 --root R2 --threshold 2: R2 absent
expect 28 "" "$FWTRUST" verify --root "$T/r1.pub" --root "$T/r2.pub" --threshold 2 "$T/r1x2.bin"
"$FWTRUST" verify --json --root "$T/r1.pub" "$T/r1x2.bin" >"$T/r1x2.json" || fail "r1x2: $(cat "$T/r1x2.json")"
[ "$(json_field "$T/r1x2.json" 'len(d["signers"]), d["anchors"], sorted({s["anchor"] for s in d["signers"]})')" = \
    "(2, 1, ['$T/r1.pub'])" ] || fail "r1x2 anchors: $(cat "$T/r1x2.json")"
# A key of R1 and a key of R2: two anchors
signc r1r2.bin s1 s1r1.cert s2 s2r2.cert
expect 0 "2 trust anchor(s)" "$FWTRUST" verify --root "$T/r1.pub" --root "$T/r2.pub" --threshold 2 "$T/r1r2.bin"
# K1 itself and a key R1 certified: two anchors (K1's holder and R1's both signed) ...
signc ar1.bin a - s1 s1r1.cert
expect 0 "2 trust anchor(s)" "$FWTRUST" verify --key "$T/a.pub" --root "$T/r1.pub" --threshold 2 "$T/ar1.bin"
# ... also when R1 certified K1 too and K1 signs with its certificate: K1 counts for itself
signc acr1.bin a ar1.cert s1 s1r1.cert
expect 0 "2 trust anchor(s)" "$FWTRUST" verify --key "$T/a.pub" --root "$T/r1.pub" --threshold 2 "$T/acr1.bin"
# ... but K1's certificate does not make R1 a second vote for K1's own signature
signc acr1only.bin a ar1.cert
expect 28 "" "$FWTRUST" verify --key "$T/a.pub" --root "$T/r1.pub" --threshold 2 "$T/acr1only.bin"
# One key certified by two roots is one signer: one anchor
signc s2both.bin s2 s2r1.cert
"$PY" - "$T/s2both.bin" "$T/r1r2.bin" "$T/s2twice.bin" <<'PYEOF'
# Append r1r2.bin's CERT(s2 by r2) + KEYHASH(s2) + SIG pair to s2both.bin (same digest: same payload/header).
import struct, sys
def area(path):
    b = bytearray(open(path, "rb").read())
    hdr_size, = struct.unpack_from("<H", b, 8)
    prot, = struct.unpack_from("<H", b, 10)
    img_size, = struct.unpack_from("<I", b, 12)
    off = hdr_size + img_size + prot
    magic, size = struct.unpack_from("<HH", b, off)
    assert magic == 0x6907
    return b, off, size
a, aoff, asize = area(sys.argv[1])
b, boff, bsize = area(sys.argv[2])
tlvs, p = [], boff + 4
while p < boff + bsize:
    t, l = struct.unpack_from("<HH", b, p)
    tlvs.append(bytes(b[p:p + 4 + l]))
    p += 4 + l
group = b"".join(tlvs[-3:])  # the last CERT, KEYHASH, signature
a[aoff + 2:aoff + 4] = struct.pack("<H", asize + len(group))
a[aoff + asize:aoff + asize] = group
open(sys.argv[3], "wb").write(a)
PYEOF
expect 0 "1 signature(s) from trusted keys, 1 trust anchor(s)" \
    "$FWTRUST" verify --root "$T/r1.pub" --root "$T/r2.pub" "$T/s2twice.bin"
expect 28 "" "$FWTRUST" verify --root "$T/r1.pub" --root "$T/r2.pub" --threshold 2 "$T/s2twice.bin"

# A key that is not trusted adds nothing; cosign refuses garbage and leaves it alone.
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/d.pem" "$T/img.bin" -o "$T/img-d.bin"
expect 28 "" "$FWTRUST" verify "${trusted[@]}" --threshold 2 "$T/img-d.bin"
head -c 4096 /dev/urandom >"$T/junk.bin"
cp "$T/junk.bin" "$T/junk.orig"
expect 20 "" "$FWTRUST" cosign --no-log --key "$T/b.pem" "$T/junk.bin"
cmp -s "$T/junk.bin" "$T/junk.orig" || fail "cosign changed a file it refused"
expect 1 "one --key per cosign" "$FWTRUST" cosign --key "$T/b.pem" --key "$T/c.pem" "$T/img.bin"
"$FWTRUST" cosign --no-log --json --key "$T/b.pem" "$T/img.bin" -o "$T/j.bin" >"$T/j.json"
[ "$(json_field "$T/j.json" 'd["ok"], d["logged"]')" = "(True, False)" ] || fail "cosign json"
echo "keys threshold: ok"
