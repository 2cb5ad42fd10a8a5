#!/bin/bash
# inspect decodes every header field and TLV, unknown TLVs shown raw.
. "$(dirname "$0")/lib.sh"
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k.pem"
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 2.3.4+5 --header-size 0x200 --pad-header \
    --security-counter 9 --hw-id "hw-1" --load-addr 0x20000000 "$FW" "$T/s.bin"
"$FWTRUST" inspect --json "$T/s.bin" >"$T/i.json"
[ "$(json_field "$T/i.json" 'd["header"]["magic"], d["header"]["load_addr"], d["header"]["hdr_size"], d["header"]["version"], d["header"]["flag_names"]')" = \
  "(2532554813, 536870912, 512, '2.3.4+5', ['RAM_LOAD'])" ] || fail "header: $(cat "$T/i.json")"
[ "$(json_field "$T/i.json" '[(t["area"], t["name"]) for t in d["tlvs"]]')" = \
  "[('protected', 'SEC_CNT'), ('protected', 'FWT_FORMAT'), ('protected', 'FWT_HW_ID'), ('unprotected', 'SHA256'), ('unprotected', 'KEYHASH'), ('unprotected', 'ED25519')]" ] ||
    fail "tlvs: $(json_field "$T/i.json" '[(t["area"], t["name"]) for t in d["tlvs"]]')"
[ "$(json_field "$T/i.json" '[t.get("security_counter", t.get("hw_id", t.get("format_version"))) for t in d["tlvs"][:3]]')" = \
  "[9, 1, 'hw-1']" ] || fail "decoded values"
expect 0 "SEC_CNT" "$FWTRUST" inspect "$T/s.bin"
grep -q 'version        2.3.4+5' "$T/.out" || fail "text header"

# An unknown TLV (type 0x0777, appended to the unprotected area) is shown raw.
"$PY" - "$T/s.bin" "$T/u.bin" <<'PYEOF'
import sys, struct
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
off = hs + isz + ps
m, tot = struct.unpack_from("<HH", b, off)
extra = struct.pack("<HH", 0x0777, 3) + b"\x01\x02\x03"
struct.pack_into("<HH", b, off, m, tot + len(extra))
open(sys.argv[2], "wb").write(b[:off + tot] + extra)
PYEOF
rc=0
"$FWTRUST" inspect --json "$T/u.bin" >"$T/u.json" 2>/dev/null || rc=$?
json_field "$T/u.json" '[(t["type"], t["name"], t["value"]) for t in d["tlvs"]]' |
    grep -q "(1911, None, '010203')" || fail "unknown TLV not shown raw: $(cat "$T/u.json")"
# ... and the image is refused: only key and signature TLVs may be unsigned (CVE-2024-32883).
[ $rc = 20 ] || fail "inspect of an image with an unknown unprotected TLV: exit $rc, expected 20"
expect 1 "" "$FWTRUST" inspect

# MCUboot's other protected TLVs and ours, decoded: a pure Ed25519 image with a
# DEPENDENCY (image 1 >= 2.3.4+5), a provenance digest and a BOOT_RECORD added to
# its protected area (the SHA512 TLV recomputed; inspect checks structure, not signatures).
# The pure marker is where imgtool --pure writes it: unprotected, after the hash.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --version 2.3.4+5 --header-size 0x200 --pad-header \
    -s 9 --pure "$FW" "$T/pure.bin"
"$PY" - "$T/pure.bin" "$T/dep.bin" <<'PYEOF'
import sys, struct, hashlib
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
p = hs + isz
assert struct.unpack_from("<HH", b, p) == (0x6908, ps)
extra = (struct.pack("<HH", 0x40, 12) + struct.pack("<BBHBBHI", 1, 0, 0, 2, 3, 4, 5)
         + struct.pack("<HH", 0x46a2, 32) + bytes(range(32))
         + struct.pack("<HH", 0x60, 3) + b"\xa1\x01\x02")
prot = struct.pack("<HH", 0x6908, ps + len(extra)) + bytes(b[p + 4:p + ps]) + extra
struct.pack_into("<H", b, 10, len(prot))
signed = bytes(b[:p]) + prot
un = bytes(b[p + ps:])
q, out = 4, b""
while q < struct.unpack_from("<HH", un, 0)[1]:
    t, l = struct.unpack_from("<HH", un, q)
    v = hashlib.sha512(signed).digest() if t == 0x12 else un[q + 4:q + 4 + l]
    out += struct.pack("<HH", t, l) + v
    q += 4 + l
open(sys.argv[2], "wb").write(signed + un[:4] + out)
PYEOF
"$FWTRUST" inspect --json "$T/dep.bin" >"$T/d.json" || fail "inspect of dep.bin"
[ "$(json_field "$T/d.json" '[(t["name"], t.get("pure", t.get("image_id")), t.get("min_version"), t["value"][:8]) for t in d["tlvs"] if t["area"] == "protected"]')" = \
  "[('SEC_CNT', None, None, '09000000'), ('FWT_FORMAT', None, None, '01010000'), ('DEPENDENCY', 1, '2.3.4+5', '01000000'), ('FWT_PROVENANCE', None, None, '00010203'), ('BOOT_RECORD', None, None, 'a10102')]" ] ||
    fail "protected TLVs: $(json_field "$T/d.json" 'd["tlvs"]')"
[ "$(json_field "$T/d.json" '[(t["name"], t["length"], t.get("pure")) for t in d["tlvs"] if t["area"] == "unprotected"]')" = \
  "[('SHA512', 64, None), ('SIG_PURE', 1, True), ('KEYHASH', 64, None), ('ED25519', 64, None)]" ] ||
    fail "unprotected TLVs: $(json_field "$T/d.json" 'd["tlvs"]')"
expect 0 "image 1 >= 2.3.4+5" "$FWTRUST" inspect "$T/dep.bin"

# --rom-fixed: address in the load address field with the ROM_FIXED flag; not with --load-addr.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header --rom-fixed 0x08020000 \
    "$FW" "$T/rom.bin"
"$FWTRUST" inspect --json "$T/rom.bin" >"$T/r.json"
[ "$(json_field "$T/r.json" 'd["header"]["load_addr"], d["header"]["flag_names"]')" = "(134348800, ['ROM_FIXED'])" ] ||
    fail "rom-fixed header: $(json_field "$T/r.json" 'd["header"]')"
expect 1 "exclude each other" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --rom-fixed 0x08020000 --load-addr 0x20000000 "$FW" "$T/rom2.bin"
# --public-key-format full: a PUBKEY TLV (the key's MCUboot encoding) instead of KEYHASH.
expect 0 "" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --public-key-format full "$FW" "$T/full.bin"
"$FWTRUST" inspect --json "$T/full.bin" >"$T/f.json"
[ "$(json_field "$T/f.json" '[(t["name"], t["length"]) for t in d["tlvs"]]')" = \
  "[('FWT_FORMAT', 4), ('SHA256', 32), ('PUBKEY', 44), ('ED25519', 64)]" ] ||
    fail "PUBKEY TLV: $(json_field "$T/f.json" '[(t["name"], t["length"]) for t in d["tlvs"]]')"
expect 0 "" "$FWTRUST" verify --key "$T/k.pem" "$T/full.bin"
expect 1 "hash or full" "$FWTRUST" sign --key "$T/k.pem" --header-size 0x200 --pad-header \
    --public-key-format raw "$FW" "$T/full2.bin"
echo "inspect: ok"
