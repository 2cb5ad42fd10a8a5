#!/bin/bash
# Intel HEX in and out, checked against binutils' objcopy (an independent reader).
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k.pem"
# The firmware as Intel HEX at 0x08008200 (room for a 0x200 header below it).
objcopy -I binary -O ihex --change-addresses 0x08008200 "$FW" "$T/fw.hex"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.2.3 --header-size 0x200 --pad-header \
    "$T/fw.hex" "$T/s.hex"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.2.3 --header-size 0x200 --pad-header \
    "$T/fw.hex" "$T/s.bin"
# HEX output starts at the header (0x08008000) and holds exactly the binary image.
objcopy -I ihex -O binary "$T/s.hex" "$T/s-from-hex.bin"
cmp "$T/s-from-hex.bin" "$T/s.bin" || fail "HEX output differs from binary output"
head -c 15 "$T/s.hex" | grep -q '^:020000040800F2' || fail "HEX output does not start at 0x0800xxxx"
"$PY" - "$T/s.hex" <<'PYEOF' || fail "HEX output records"
import sys
lines = open(sys.argv[1]).read().splitlines()
assert lines[-1] == ":00000001FF", lines[-1]
# first data record is at offset 0x8000 of segment 0x0800
assert lines[1].startswith(":108000") or lines[1].startswith(":10800000"), lines[1]
for l in lines:
    b = bytes.fromhex(l[1:])
    assert sum(b) & 0xFF == 0 and b[0] + 5 == len(b), l
PYEOF
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/s-from-hex.bin"
# verify and inspect read Intel HEX images directly.
expect 0 "valid, version 1.2.3+0" "$FWTRUST" verify --key "$T/k.pem" "$T/s.hex"
expect 0 "SHA256" "$FWTRUST" inspect "$T/s.hex"
"$PY" - "$T/s.hex" <<'PYEOF' # change one data digit of line 20: its checksum no longer matches
import sys
lines = open(sys.argv[1]).read().split("\n")
l = lines[19]
lines[19] = l[:9] + ("0" if l[9] != "0" else "1") + l[10:]
open(sys.argv[1], "w").write("\n".join(lines))
PYEOF
expect 20 "line 20: checksum mismatch" "$FWTRUST" verify --key "$T/k.pem" "$T/s.hex"
# Binary in, HEX out needs an address.
expect 1 "needs an address" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    "$FW" "$T/x.hex"
[ ! -e "$T/x.hex" ] || fail "x.hex left behind"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header --hex-addr 0x10000 \
    "$FW" "$T/y.hex"
objcopy -I ihex -O binary "$T/y.hex" "$T/y.bin"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/y.bin"
# HEX with a gap: filled with the erased value; --erased-val 0 fills with zeros.
printf ':020000040000FA\n:04000000DEADBEEFC4\n:04001000CAFEF00D27\n:00000001FF\n' >"$T/gap.hex"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header --hex-addr 0 \
    "$T/gap.hex" "$T/gap.bin"
[ "$(od -An -tx1 -j 32 -N 20 "$T/gap.bin" | tr -d ' \n')" = "deadbeefffffffffffffffffffffffffcafef00d" ] ||
    fail "gap not filled with 0xff: $(od -An -tx1 -j 32 -N 20 "$T/gap.bin")"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header -R 0 \
    "$T/gap.hex" "$T/gap0.bin"
[ "$(od -An -tx1 -j 32 -N 20 "$T/gap0.bin" | tr -d ' \n')" = "deadbeef000000000000000000000000cafef00d" ] ||
    fail "gap not filled with 0x00"
# Overlapping records and bad checksums are refused (20) and nothing is written.
printf ':0400000001020304F2\n:04000200AABBCCDDEC\n:00000001FF\n' >"$T/overlap.hex"
expect 20 "overlaps" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 --pad-header \
    "$T/overlap.hex" "$T/o.bin"
printf ':0400000001020304F3\n:00000001FF\n' >"$T/sum.hex"
expect 20 "line 1: checksum mismatch" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 \
    --pad-header "$T/sum.hex" "$T/o.bin"
printf ':0400000001020304F2\n' >"$T/noeof.hex"
expect 20 "no end-of-file record" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x20 \
    --pad-header "$T/noeof.hex" "$T/o.bin"
[ ! -e "$T/o.bin" ] || fail "o.bin written by a failed sign"
# The extension is matched without case (as imgtool does). A padded, confirmed HEX
# output is laid out as imgtool writes it: the image from the header address, then
# only the trailer marks (no fill records): image_ok as one max_align-sized write
# (0x01 then erased bytes) and the boot magic at the end of the slot.
# layout.py HEX BIN ALIGN: HEX holds BIN at 0x08008000 and a confirmed trailer's marks for
# a 0x60000 slot, and nothing else.
cat >"$T/layout.py" <<'PYEOF'
import sys
mem, upper = {}, 0
for l in open(sys.argv[1]).read().split():
    b = bytes.fromhex(l[1:])
    n, addr, rt = b[0], b[1] << 8 | b[2], b[3]
    if rt == 4:
        upper = (b[4] << 8 | b[5]) << 16
    elif rt == 0:
        for i in range(n):
            assert upper + addr + i not in mem
            mem[upper + addr + i] = b[4 + i]
img, align = open(sys.argv[2], "rb").read(), int(sys.argv[3])
base, slot = 0x08008000, 0x60000
max_align = max(8, align)
magic_align = (16 + max_align - 1) // max_align * max_align
want = {base + i: v for i, v in enumerate(img)}
ok = base + slot - magic_align - max_align
for i in range(max_align):
    want[ok + i] = 0x01 if i == 0 else 0xFF
magic = (bytes.fromhex("77c295f360d2ef7f3552500f2cb67980") if max_align == 8 else
         bytes([max_align, 0]) + bytes.fromhex("2de15d29410b8d77679c110f1f8a"))
for i, v in enumerate(magic):
    want[base + slot - 16 + i] = v
extra = sorted(set(mem) - set(want))
missing = sorted(set(want) - set(mem))
assert not extra and not missing, ("extra", [hex(a) for a in extra[:4]], "missing", [hex(a) for a in missing[:4]])
bad = [hex(a) for a in want if mem[a] != want[a]]
assert not bad, bad[:4]
PYEOF
cp "$T/fw.hex" "$T/FW.HEX"
for align in 8 32; do
    expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.2.3 --header-size 0x200 --pad-header \
        --slot-size 0x60000 --align $align --confirm "$T/FW.HEX" "$T/P$align.HEX"
    expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.2.3 --header-size 0x200 --pad-header \
        --slot-size 0x60000 --align $align "$T/fw.hex" "$T/u$align.bin"
    "$PY" "$T/layout.py" "$T/P$align.HEX" "$T/u$align.bin" $align || fail "padded HEX layout, align $align"
    expect 0 "image_ok 0x01 (confirmed)" "$FWTRUST" inspect "$T/P$align.HEX"
done
# cosign reads and writes Intel HEX too: the padded HEX keeps its layout (the new TLVs
# land on the erased gap), an unpadded one is cosigned in place; both equal cosigning
# the same image in binary. Mixing formats is refused and writes nothing.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k2.pem"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/P8.HEX" -o "$T/C8.hex"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/u8.bin" -o "$T/c8.bin"
expect 0 "2 signature(s)" "$FWTRUST" verify --key "$T/k.pem" --key "$T/k2.pem" --threshold 2 "$T/C8.hex"
"$PY" "$T/layout.py" "$T/C8.hex" "$T/c8.bin" 8 || fail "cosigned padded HEX layout"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 1.2.3 --header-size 0x200 --pad-header \
    "$T/fw.hex" "$T/n.hex"
cp "$T/u8.bin" "$T/n.bin"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/n.hex"
expect 0 "" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/n.bin"
objcopy -I ihex -O binary "$T/n.hex" "$T/n-from-hex.bin"
cmp "$T/n-from-hex.bin" "$T/n.bin" || fail "cosigned HEX differs from cosigned binary"
head -c 15 "$T/n.hex" | grep -q '^:020000040800F2' || fail "cosigned n.hex does not start at 0x0800xxxx"
cp "$T/n.hex" "$T/n.orig"
expect 1 "same format" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/n.hex" -o "$T/mixed.bin"
expect 1 "same format" "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/n.bin" -o "$T/mixed.hex"
[ ! -e "$T/mixed.bin" ] && [ ! -e "$T/mixed.hex" ] || fail "a refused cosign wrote its output"
cmp -s "$T/n.hex" "$T/n.orig" || fail "a refused cosign changed its input"
# Issue 19: a 132-byte file whose two records lie 256 MiB apart is refused before
# anything is written (each command under a 1 MiB file-size limit: the old
# conversion wrote 256 MiB of fill into its scratch file and died of it).
"$PY" - "$T/far.hex" "$T/near.hex" <<'PYEOF'
import sys
def rec(data, typ):
    b = bytes([len(data), 0, 0, typ]) + data
    return ":%s%02X\n" % (b.hex().upper(), -sum(b) & 0xFF)
for path, upper in ((sys.argv[1], 0x1800), (sys.argv[2], 0x0802)):
    t = (rec(b"\x08\x00", 4) + rec(b"\x11" * 16, 0) + rec(upper.to_bytes(2, "big"), 4)
         + rec(b"\x22" * 16, 0) + rec(b"", 1))
    open(path, "w").write(t)
PYEOF
[ "$(stat -c %s "$T/far.hex")" = 132 ] || fail "far.hex is not 132 bytes"
limited() { (ulimit -f 1024 && "$@"); }
expect 33 "at most 0x10000000 are allowed" limited "$FWTRUST" verify --key "$T/k.pem" "$T/far.hex"
expect 33 "data spans 0x10000010 bytes" limited "$FWTRUST" inspect "$T/far.hex"
expect 33 "data spans" limited "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --no-log "$T/far.hex" "$T/far.bin"
expect 33 "data spans" limited "$FWTRUST" cosign --no-log --key "$T/k2.pem" "$T/far.hex" -o "$T/far2.hex"
expect 33 "data spans" limited "$FWTRUST" log find --log "$T/none.db" "$T/far.hex"
[ ! -e "$T/far.bin" ] && [ ! -e "$T/far2.hex" ] || fail "a refused command wrote its output"
# The slot size bounds sign's input more tightly.
expect 33 "at most 0x10000 are allowed" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 \
    --pad-header --slot-size 0x10000 --no-log "$T/fw.hex" "$T/x.bin"
[ ! -e "$T/x.bin" ] || fail "a refused sign wrote its output"
# Within the bound, gaps are holes in the scratch file, never written (the unit
# test test_to_bin_huge_gap counts the blocks): near.hex (a 128 KiB gap) is
# simply not an image.
expect 20 "no image header (magic 0x11111111" limited "$FWTRUST" inspect "$T/near.hex"
echo "hex: ok"
