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
