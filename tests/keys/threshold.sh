#!/bin/bash
# Separation of duties: signatures from K distinct trusted keys (fwtrust verify
# --threshold), added one by one with fwtrust cosign on different "machines"
# without touching the signed bytes; the same key twice counts once.
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
