#!/bin/bash
# fwtrust delta --from-elf/--to-elf: two versions of a Thumb-2 program built here with
# arm-none-eabi-gcc (tests/delta/elfhint/gen.py: 400 functions and a .rodata table of
# halfwords shaped like BL instructions), signed, patched with and without the ELF files.
# With them the patch's transform carries the code ranges of .text (and only those are
# rewritten; tests/delta/test_thumb.c shows data outside them untouched); both patches
# rebuild the new image. Wrong or foreign ELF files are refused. Sizes are printed
# (docs/updates.md quotes them). Exit 77 (skipped) without the ARM toolchain.
set -eu
: "${FWTRUST:?}" "${SRC:?}"
. "$SRC/tests/lib/common.sh"
command -v arm-none-eabi-gcc >/dev/null && command -v arm-none-eabi-objcopy >/dev/null || exit 77
fwt() { "$FWTRUST" "$@"; }
jget() {
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {"d": d}))' "$1" "$2"
}
fwt keygen --type ed25519 -o "$T/k.pem" >/dev/null
for v in 1 2; do
    "$PY" "$SRC/tests/delta/elfhint/gen.py" $v >"$T/p$v.c"
    arm-none-eabi-gcc -mcpu=cortex-m4 -mthumb -O2 -ffreestanding -nostdlib -nostartfiles \
        -Wl,-Ttext=0x08000000 -Wl,-e,reset -o "$T/v$v.elf" "$T/p$v.c" || fail "build v$v"
    arm-none-eabi-objcopy -O binary "$T/v$v.elf" "$T/v$v.raw"
    fwt sign --no-log --key "$T/k.pem" --version 1.0.$v --header-size 0x200 --pad-header \
        --hw-id demo "$T/v$v.raw" "$T/v$v.bin" >/dev/null 2>&1 || fail "sign v$v"
done
# .text's size (the code range expected), from the section headers.
text_size() {
    "$PY" - "$1" <<'PYEOF'
import struct, sys
b = open(sys.argv[1], "rb").read()
shoff, = struct.unpack_from("<I", b, 32)
shnum, shstrndx = struct.unpack_from("<HH", b, 48)
sh = [struct.unpack_from("<10I", b, shoff + 40 * i) for i in range(shnum)]
stroff = sh[shstrndx][4]
for s in sh:
    name = b[stroff + s[0]:b.index(b"\0", stroff + s[0])]
    if name == b".text":
        print(s[5])
PYEOF
}
TB=$(text_size "$T/v1.elf")
TN=$(text_size "$T/v2.elf")

for m in bsdiff2 lzma2-dict; do
    fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/scan.$m" --method $m --json >"$T/scan.json" || fail "scan $m"
    fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/hint.$m" --method $m \
        --from-elf "$T/v1.elf" --to-elf "$T/v2.elf" --json >"$T/hint.json" || fail "hint $m"
    [ "$(jget "$T/hint.json" 'd["code_ranges"]["base"], d["code_ranges"]["new"]')" = "(1, 1)" ] ||
        fail "$m: expected one code range per image: $(cat "$T/hint.json")"
    [ "$(jget "$T/hint.json" 'd["code_ranges"]["base_bytes"], d["code_ranges"]["new_bytes"]')" = "($TB, $TN)" ] ||
        fail "$m: the code ranges are not .text ($TB, $TN)"
    [ "$(jget "$T/hint.json" 'd["code_ranges"]["used"]')" = True ] || fail "$m: the hinted transform was not used"
    [ "$(jget "$T/hint.json" 'd["header"]["code_ranges"]')" = elf ] || fail "$m: header does not say so"
    [ "$(jget "$T/hint.json" 'd["header"]["transform"]')" != none ] || fail "$m: no transform"
    for p in scan hint; do
        fwt delta --apply "$T/$p.$m" --from "$T/v1.bin" -o "$T/out.bin" >/dev/null || fail "apply $p.$m"
        cmp "$T/out.bin" "$T/v2.bin" || fail "$p.$m does not rebuild v2"
    done
    echo "$m: scanning $(jget "$T/scan.json" 'd["length"]') bytes ($(jget "$T/scan.json" 'd["header"]["transform"]')), ELF hint $(jget "$T/hint.json" 'd["length"]') bytes, image $(stat -c %s "$T/v2.bin") bytes"
done
fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/p" --method bsdiff2 --from-elf "$T/v1.elf" \
    --to-elf "$T/v2.elf" >"$T/text.out" || fail "text output"
grep -q "code ranges from the ELF files: base 1 ($TB bytes), new 1 ($TN bytes); the patch transforms only them" "$T/text.out" ||
    fail "text output: $(cat "$T/text.out")"

# Refusals: nothing written (exit codes of docs/exit-codes.md).
echo keep >"$T/keep"
expect 21 "not the ELF file of this image" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/v2.elf" --to-elf "$T/v2.elf"
expect 20 "not an ELF file" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/v1.raw" --to-elf "$T/v2.elf"
head -c 100 "$T/v1.elf" >"$T/cut.elf"
expect 20 "program headers" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/cut.elf" --to-elf "$T/v2.elf"
"$PY" - "$T/v1.elf" "$T/x86.elf" "$T/be.elf" "$T/obj.elf" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
x = bytearray(b); x[18:20] = (3).to_bytes(2, "little"); open(sys.argv[2], "wb").write(x)  # EM_386
e = bytearray(b); e[5] = 2; open(sys.argv[3], "wb").write(e)                               # big-endian
o = bytearray(b); o[16:18] = (1).to_bytes(2, "little"); open(sys.argv[4], "wb").write(o)   # ET_REL
PYEOF
expect 27 "only ARM (40)" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/x86.elf" --to-elf "$T/v2.elf"
expect 27 "little-endian" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/be.elf" --to-elf "$T/v2.elf"
expect 27 "linked executable" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/obj.elf" --to-elf "$T/v2.elf"
expect 1 "go together" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" --from-elf "$T/v1.elf"
expect 1 "not with --method prefix" fwt delta --from "$T/v1.bin" --to "$T/v2.bin" -o "$T/keep" \
    --from-elf "$T/v1.elf" --to-elf "$T/v2.elf" --method prefix
[ "$(cat "$T/keep")" = keep ] || fail "a refused delta changed its output"
echo "elf_hint: ok"
