#!/bin/bash
# imgtool's other options (tests/data/vectors/imgtool-options/README.md): images
# made by imgtool (custom TLV with max-align 32, dependency, boot record) and by an
# independent generator written from imgtool's source (--pure, --sha 512,
# --public-key-format full with --pad --confirm) verify with their key, are
# decoded by inspect, and are refused with another key or when tampered; and
# `fwtrust sign --pure` writes imgtool's --pure image byte for byte.
. "$(dirname "$0")/lib.sh"
D="$VEC/imgtool-options"
V="$SRC/tests/interop/imgtool/verify.py"
ED="$D/root-ed25519.pub.pem"
P256="$D/root-ec-p256.pub.pem"

# Made by imgtool itself.
expect 0 "digest (sha256): 9c620c11" "$FWTRUST" verify --key "$ED" "$D/ed25519-customtlv-maxalign32.bin"
expect 0 "digest (sha256): 815717da" "$FWTRUST" verify --key "$P256" "$D/p256-dependency.bin"
expect 0 "digest (sha256): 3c4b2f29" "$FWTRUST" verify --key "$P256" "$D/p256-bootrecord.bin"
expect 24 "not one of the 1 trusted key(s)" "$FWTRUST" verify --key "$ED" "$D/p256-dependency.bin"
"$FWTRUST" inspect --json "$D/ed25519-customtlv-maxalign32.bin" >"$T/c.json" || fail "inspect custom TLV"
[ "$(json_field "$T/c.json" '[(t["area"], t["type"], t["value"]) for t in d["tlvs"] if t["area"] == "protected"]')" = \
  "[('protected', 160, '01020304')]" ] || fail "custom TLV: $(json_field "$T/c.json" 'd["tlvs"]')"
expect 0 "image 1 >= 1.2.3+0" "$FWTRUST" inspect "$D/p256-dependency.bin"
expect 0 "BOOT_RECORD" "$FWTRUST" inspect "$D/p256-bootrecord.bin"

# Made by the independent generator: pure Ed25519 as imgtool --pure lays it out.
expect 0 "digest (sha512): f99d5059" "$FWTRUST" verify --key "$ED" --min-security-counter 5 \
    "$D/ed25519-pure.bin"
grep -q "pure Ed25519" "$T/.out" || fail "verify does not report the pure signature"
"$FWTRUST" verify --json --key "$ED" "$D/ed25519-pure.bin" >"$T/v.json" || fail "verify --json pure"
[ "$(json_field "$T/v.json" 'd["pure"], d["hash"]')" = "(True, 'sha512')" ] || fail "verify --json: $(cat "$T/v.json")"
"$FWTRUST" inspect --json "$D/ed25519-pure.bin" >"$T/p.json" || fail "inspect pure"
[ "$(json_field "$T/p.json" '[(t["name"], t["length"]) for t in d["tlvs"] if t["area"] == "unprotected"]')" = \
  "[('SHA512', 64), ('SIG_PURE', 1), ('KEYHASH', 64), ('ED25519', 64)]" ] || fail "pure layout: $(cat "$T/p.json")"
expect 0 "(pure)" "$PY" "$V" "$ED" "$D/ed25519-pure.bin"
expect 0 "digest (sha512): f99d5059" "$FWTRUST" verify --key "$ED" "$D/ed25519-sha512.bin"
expect 0 "OK version 4.0.0+5" "$PY" "$V" "$ED" "$D/ed25519-sha512.bin"
expect 0 "valid, version 4.0.0+5" "$FWTRUST" verify --key "$ED" "$D/ed25519-pure-full-dep-custom-confirm.bin"
expect 0 "(pure)" "$PY" "$V" "$ED" "$D/ed25519-pure-full-dep-custom-confirm.bin"
expect 24 "" "$FWTRUST" verify --key "$P256" "$D/ed25519-pure.bin"

# The region signature is what counts: a payload byte changed (hash TLV fixed up
# to match) is a bad signature; the marker removed is a bad signature too.
"$PY" - "$D/ed25519-pure.bin" "$T/t1.bin" "$T/t2.bin" <<'PYEOF'
import hashlib, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
hs, ps, isz = struct.unpack_from("<HHI", b, 8)
u = hs + isz + ps
b[hs + 100] ^= 1
struct.pack_into("64s", b, u + 8, hashlib.sha512(bytes(b[:u])).digest())
open(sys.argv[2], "wb").write(b)
b = bytearray(open(sys.argv[1], "rb").read())
m, tot = struct.unpack_from("<HH", b, u)
assert struct.unpack_from("<HH", b, u + 4 + 68) == (0x25, 1)
b = b[:u + 72] + b[u + 77:]
struct.pack_into("<HH", b, u, m, tot - 5)
open(sys.argv[3], "wb").write(b)
PYEOF
expect 22 "" "$FWTRUST" verify --key "$ED" "$T/t1.bin"
expect 22 "" "$FWTRUST" verify --key "$ED" "$T/t2.bin"

# fwtrust sign --pure makes imgtool's bytes (Ed25519 is deterministic).
expect 0 "" "$FWTRUST" sign --key "$D/root-ed25519.pem" --allow-test-key --no-log --pure \
    --version 4.0.0+5 --header-size 0x200 --pad-header --slot-size 0x80000 --security-counter 5 \
    --no-format-tlv "$FW" "$T/ours-pure.bin"
cmp "$T/ours-pure.bin" "$D/ed25519-pure.bin" || fail "fwtrust sign --pure differs from imgtool --pure"
# Cosigning a pure image adds a pure signature with a 64-byte key hash.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/k2.pem"
expect 0 "" "$FWTRUST" pubkey "$T/k2.pem" -o "$T/k2.pub"
expect 0 "" "$FWTRUST" cosign --key "$T/k2.pem" --no-log "$T/ours-pure.bin" -o "$T/co.bin"
expect 0 "2 signature(s)" "$FWTRUST" verify --key "$ED" --key "$T/k2.pub" --threshold 2 "$T/co.bin"
expect 0 "(pure)" "$PY" "$V" "$T/k2.pub" "$T/co.bin"
expect 0 "" "$FWTRUST" keygen --type ecdsa-p256 -o "$T/ec.pem"
expect 1 "pure signatures need an Ed25519 key" "$FWTRUST" sign --key "$T/ec.pem" --pure \
    --header-size 0x200 --pad-header --no-log "$FW" "$T/x.bin"
expect 1 "pure signatures need an Ed25519 key" "$FWTRUST" cosign --key "$T/ec.pem" --no-log \
    "$T/ours-pure.bin" -o "$T/x.bin"
# The signing log names keys by SHA-256: log find says so for a 64-byte key hash,
# and matches a pure image signed with the full public key.
expect 0 "" "$FWTRUST" keygen --type ed25519 -o "$T/lk.pem"
expect 0 "" "$FWTRUST" log init --log "$T/l.db" --log-key "$T/lk.pem"
expect 0 "" "$FWTRUST" sign --key "$T/k2.pem" --pure --header-size 0x200 --pad-header \
    --log "$T/l.db" "$FW" "$T/logged.bin"
expect 27 "cannot match them" "$FWTRUST" log find --log "$T/l.db" "$T/logged.bin"
expect 0 "" "$FWTRUST" sign --key "$T/k2.pem" --pure --public-key-format full --header-size 0x200 \
    --pad-header --log "$T/l.db" "$FW" "$T/logged-full.bin"
expect 0 "all 1 signatures are in the signing log" "$FWTRUST" log find --log "$T/l.db" "$T/logged-full.bin"
echo "imgtool options: ok"
