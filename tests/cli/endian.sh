#!/bin/bash
# imgtool --endian big in fwtrust (docs/imgtool.md, docs/image-format.md "Byte order"):
# fwtrust sign -e big writes imgtool's big-endian image byte for byte (compared
# with tests/interop/imgtool/make_vectors.py, written from imgtool's packing, not
# fwtrust's code); the independent verifier (verify.py: struct '>') checks the
# fields, digest and signature of fwtrust's big-endian images for every key type;
# verify, inspect (--json byte_order), decrypt and cosign read them with no
# option saying so; a corrupted byte, a magic of neither order and a header in
# one order on TLV areas in the other are refused; a custom TLV type with no
# big-endian encoding is refused before anything is written.
. "$(dirname "$0")/lib.sh"
V="$SRC/tests/interop/imgtool/verify.py"
MV="$SRC/tests/interop/imgtool/make_vectors.py"
S="$VEC/enc" # MCUboot's sample keys (root-*.pem) and encryption keys
ED="$VEC/imgtool-options/root-ed25519.pub.pem"
IMG=(--version 4.0.0+5 --header-size 0x200 --pad-header --slot-size 0x80000 --no-format-tlv
     --allow-test-key --no-log)

# 1. Byte for byte what imgtool --endian big writes (deterministic Ed25519).
expect 0 "be-ed25519-full.bin" "$PY" "$MV" big "$S/root-ed25519.pem" "$FW" "$T"
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -e big -s 7 -d "(1,1.2.3+4)" \
    --custom-tlv 0xa1 hello --custom-tlv 0x1234 0x00ff --max-align 32 --align 32 --pad --confirm \
    "$FW" "$T/full.bin"
cmp "$T/full.bin" "$T/be-ed25519-full.bin" || fail "-e big image differs from imgtool's"
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --endian big -s 5 --pure \
    --public-key-format full "$FW" "$T/pure.bin"
cmp "$T/pure.bin" "$T/be-ed25519-pure.bin" || fail "-e big --pure image differs from imgtool's"
# The same options little endian give another image (the default order is little).
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -s 5 --pure \
    --public-key-format full "$FW" "$T/pure-le.bin"
cmp -s "$T/pure-le.bin" "$T/pure.bin" && fail "little- and big-endian images are the same"
[ "$(head -c 4 "$T/pure-le.bin" | od -An -tx1 | tr -d ' ')" = "3db8f396" ] || fail "default is not little endian"

# 2. The independent verifier: fields, digest and signature, struct '>'.
expect 0 "order big counter 7 deps 1:1.2.3+4" "$PY" "$V" "$ED" "$T/full.bin" --expect-order big \
    --expect-counter 7 --expect-deps 1:1.2.3+4 --expect-max-align 32 --expect-version 4.0.0+5
expect 0 "(pure) order big" "$PY" "$V" "$ED" "$T/pure.bin"
expect 1 "byte order big, expected little" "$PY" "$V" "$ED" "$T/pure.bin" --expect-order little
for kt in ec-p256 rsa-2048; do
    openssl pkey -in "$S/root-$kt.pem" -pubout -out "$T/$kt.pub" 2>/dev/null
    expect 0 "" "$FWTRUST" sign -k "$S/root-$kt.pem" "${IMG[@]}" -e big -s 0x01020304 \
        -d "(2, 0.9.258+65537)" --boot-record BL2 "$FW" "$T/$kt.bin"
    expect 0 "order big counter 16909060 deps 2:0.9.258+65537" "$PY" "$V" "$T/$kt.pub" "$T/$kt.bin"
    expect 0 "valid" "$FWTRUST" verify --key "$T/$kt.pub" "$T/$kt.bin"
done

# 3. verify and inspect read the order from the magic.
expect 0 "security counter: 7" "$FWTRUST" verify --key "$ED" "$T/full.bin"
expect 0 "depends on: image 1 >= 1.2.3+4" "$FWTRUST" verify --key "$ED" "$T/full.bin"
"$FWTRUST" verify --key "$ED" --json "$T/full.bin" >"$T/v.json"
[ "$(json_field "$T/v.json" 'd["byte_order"], d["security_counter"], d["version"]')" = "('big', 7, '4.0.0+5')" ] ||
    fail "verify --json: $(cat "$T/v.json")"
"$FWTRUST" verify --key "$ED" --json "$T/pure-le.bin" >"$T/v.json"
[ "$(json_field "$T/v.json" 'd["byte_order"]')" = little ] || fail "verify --json LE: $(cat "$T/v.json")"
expect 0 "(big endian)" "$FWTRUST" inspect "$T/full.bin"
"$FWTRUST" inspect --json "$T/full.bin" >"$T/i.json"
[ "$(json_field "$T/i.json" 'd["header"]["byte_order"], d["header"]["hdr_size"], d["header"]["img_size"]')" = \
  "('big', 512, $(stat -c %s "$FW"))" ] || fail "inspect header: $(json_field "$T/i.json" 'd["header"]')"
[ "$(json_field "$T/i.json" '[(t["type"], t.get("security_counter"), t.get("min_version")) for t in d["tlvs"] if t["area"] == "protected"]')" = \
  "[(80, 7, None), (64, None, '1.2.3+4'), (161, None, None), (4660, None, None)]" ] ||
    fail "inspect TLVs: $(json_field "$T/i.json" 'd["tlvs"]')"
[ "$(json_field "$T/i.json" 'd["trailer"]["max_align"], d["trailer"]["image_ok"]')" = "(32, 1)" ] ||
    fail "inspect trailer: $(json_field "$T/i.json" 'd.get("trailer")')"
"$FWTRUST" inspect --json "$T/pure-le.bin" >"$T/l.json"
[ "$(json_field "$T/l.json" 'd["header"]["byte_order"]')" = "little" ] || fail "inspect: LE image not little"
"$FWTRUST" inspect --json "$T/rsa-2048.bin" >"$T/r.json"
[ "$(json_field "$T/r.json" '[t["summary"] for t in d["tlvs"] if t["name"] == "BOOT_RECORD"]')" = \
  "['sw_type BL2, version 4.0.0, SHA256 measurement']" ] || fail "boot record: $(cat "$T/r.json")"

# 4. One corrupted byte (payload, header, protected TLV, hash TLV, signature) is refused.
prot=$("$PY" -c 'import struct,sys; h,p,i=struct.unpack_from(">HHI", open(sys.argv[1],"rb").read(), 8); print(h+i)' "$T/full.bin")
h=$(json_field "$T/i.json" '[t["offset"] for t in d["tlvs"] if t["name"] == "SHA256"][0]')
for at in "1000 21" "22 21" "$((prot + 11)) 21" "$((h + 3)) 21"; do
    set -- $at
    cp "$T/full.bin" "$T/bad.bin"
    flip "$T/bad.bin" "$1"
    expect "$2" "" "$FWTRUST" verify --key "$ED" "$T/bad.bin"
    expect 1 "INVALID" "$PY" "$V" "$ED" "$T/bad.bin"
done
u=$(json_field "$T/i.json" '[t["offset"] for t in d["tlvs"] if t["name"] == "ED25519"][0]')
cp "$T/full.bin" "$T/bad.bin"
flip "$T/bad.bin" "$((u + 5))"
expect 22 "" "$FWTRUST" verify --key "$ED" "$T/bad.bin"

# 5. Magic of neither order; a header in one order over TLV areas in the other.
for magic in '\x3d\xb8\x96\xf3' '\xf3\x96\x3d\xb8' '\x00\x00\x00\x00'; do
    cp "$T/full.bin" "$T/m.bin"
    printf "$magic" | dd of="$T/m.bin" bs=1 seek=0 conv=notrunc 2>/dev/null
    expect 20 "" "$FWTRUST" verify --key "$ED" "$T/m.bin"
    expect 20 "expected 0x96f3b83d in either byte order" "$FWTRUST" inspect "$T/m.bin"
    expect 1 "bad header magic" "$PY" "$V" "$ED" "$T/m.bin"
done
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -s 7 -d "(1,1.2.3+4)" \
    --custom-tlv 0xa1 hello --custom-tlv 0x1234 0x00ff "$FW" "$T/le.bin"
"$PY" - "$T/full.bin" "$T/le.bin" "$T/mix1.bin" "$T/mix2.bin" <<'PYEOF'
import sys
be, le = (open(p, "rb").read() for p in sys.argv[1:3])
n = len(le)
open(sys.argv[3], "wb").write(be[:32] + le[32:n])  # BE header, LE areas
open(sys.argv[4], "wb").write(le[:32] + be[32:n])  # LE header, BE areas
PYEOF
expect 20 "" "$FWTRUST" verify --key "$ED" "$T/mix1.bin"
expect 20 "" "$FWTRUST" verify --key "$ED" "$T/mix2.bin"
expect 1 "INVALID" "$PY" "$V" "$ED" "$T/mix1.bin"

# 6. Encrypted, big endian: decrypt and verify --decrypt-key need no option for the order.
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -e big -s 3 \
    --encrypt "$S/enc-x25519-pub.pem" "$FW" "$T/enc.bin"
expect 0 "valid" "$FWTRUST" verify --key "$ED" --decrypt-key "$S/enc-x25519-priv.pem" "$T/enc.bin"
expect 0 "" "$FWTRUST" decrypt --key "$S/enc-x25519-priv.pem" "$T/enc.bin" "$T/dec.bin"
expect 0 "valid" "$FWTRUST" verify --key "$ED" --decrypt-key "$S/enc-x25519-priv.pem" "$T/dec.bin"
expect 0 "order big counter 3" "$PY" "$V" "$ED" "$T/dec.bin"
expect 0 "" "$FWTRUST" decrypt --key "$S/enc-x25519-priv.pem" --payload "$T/enc.bin" "$T/pay.bin"
cmp -n "$(stat -c %s "$FW")" "$T/pay.bin" "$FW" || fail "decrypted payload differs from the firmware" # + zero padding to 16

# 7. cosign keeps the image's order (the new TLVs and the area's size field).
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" -e big -s 1 "$FW" "$T/one.bin"
expect 0 "" "$FWTRUST" cosign --key "$S/root-ec-p256.pem" --allow-test-key --no-log -o "$T/two.bin" "$T/one.bin"
expect 0 "order big" "$PY" "$V" "$ED" "$T/two.bin"
expect 0 "order big" "$PY" "$V" "$T/ec-p256.pub" "$T/two.bin"
expect 0 "2 signature(s)" "$FWTRUST" verify --key "$ED" --key "$T/ec-p256.pub" --threshold 2 "$T/two.bin"

# 8. Refused before writing: a custom type with no big-endian encoding, a third order.
rm -f "$T/x.bin"
expect 1 "cannot be written in a big-endian image" "$FWTRUST" sign -k "$S/root-ed25519.pem" \
    "${IMG[@]}" -e big --custom-tlv 0x1200 0x01 "$FW" "$T/x.bin"
[ ! -e "$T/x.bin" ] || fail "a refused sign wrote its output"
expect 0 "" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" --custom-tlv 0x1200 0x01 "$FW" "$T/x.bin"
expect 1 "the byte order is little or big" "$FWTRUST" sign -k "$S/root-ed25519.pem" "${IMG[@]}" \
    -e pdp "$FW" "$T/y.bin"
echo "cli endian: ok"
