#!/bin/bash
# --pad: padded to the slot with MCUboot's boot trailer (magic at the end,
# image_ok with --confirm), laid out as imgtool lays it out.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k.pem"
for align in 1 4 8 16 32; do
    expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
        --slot-size 0x60000 --pad --align $align "$FW" "$T/p$align.bin"
    expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
        --slot-size 0x60000 --confirm --align $align "$FW" "$T/c$align.bin"
    "$PY" - "$T/p$align.bin" "$T/c$align.bin" $align <<'PYEOF' || fail "trailer layout, align $align"
import sys
p, c, align = open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read(), int(sys.argv[3])
assert len(p) == len(c) == 0x60000, (len(p), len(c))
max_align = max(8, align)
if max_align == 8:
    magic = bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")
else:
    magic = bytes([max_align & 0xFF, max_align >> 8]) + bytes.fromhex("2de15d29410b8d77679c110f1f8a")
magic_align = (16 + max_align - 1) // max_align * max_align
tsize = 128 * 3 * align + 4 * max_align + magic_align
assert p[-16:] == magic and c[-16:] == magic
ok = len(p) - magic_align - max_align
assert p[ok] == 0xFF, "unconfirmed image_ok must stay erased"
assert c[ok] == 0x01, "confirmed image_ok must be 1"
assert c[:ok] + c[ok + 1:] == p[:ok] + p[ok + 1:], "only image_ok differs"
assert set(p[len(p) - tsize:-16]) == {0xFF}, "trailer body erased"
PYEOF
    expect 0 "boot trailer magic" "$FWTRUST" inspect "$T/c$align.bin"
    grep -q "image_ok 0x01 (confirmed)" "$T/.out" || fail "inspect image_ok, align $align"
    expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/c$align.bin"
done
# Erased value 0: header padding, slot padding and trailer body are zeros.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header -R 0 \
    --slot-size 0x60000 --pad "$FW" "$T/z.bin"
"$PY" - "$T/z.bin" <<'PYEOF' || fail "erased value 0"
import sys
b = open(sys.argv[1], "rb").read()
assert len(b) == 0x60000
assert set(b[32:0x200]) == {0}, "header padding"
assert b[-16:] == bytes.fromhex("77c295f360d2ef7f3552500f2cb67980")
assert set(b[-0x1b0:-16]) == {0}, "trailer body"
assert b[-0x1b0 - 1] == 0, "slot padding"
PYEOF
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/z.bin"
expect 1 "--erased-val must be 0 or 0xff" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 \
    --pad-header -R 0x55 "$FW" "$T/z2.bin"
# Slot size check: image + trailer must fit. The firmware is 0x48734 bytes;
# with the header and TLVs ~0x489d0, the trailer for align 8 is 0xc30.
sz=$(stat -c %s "$T/p8.bin")
expect 33 "+ trailer (0xc30 bytes) exceeds the slot size 0x49000" "$FWTRUST" sign --key "$T/k.pem" \
    --header-size 0x200 --pad-header --slot-size 0x49000 --align 8 "$FW" "$T/small.bin"
[ ! -e "$T/small.bin" ] || fail "small.bin written"
expect 1 "alignment 3 is not one of 1, 2, 4, 8, 16, 32" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --slot-size 0x60000 --pad --align 3 "$FW" "$T/a3.bin"
expect 1 "need --slot-size" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --pad "$FW" "$T/a3.bin"
[ ! -e "$T/a3.bin" ] || fail "a3.bin written"
echo "pad: ok ($sz)"
